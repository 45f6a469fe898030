"""How big `agent view`'s page is and how fast it opens, in the tests' headless Chromium
(Debian's chromium driven by Playwright), from file:// with no network; and the
screenshots README shows.

    .venv/bin/python benchmarks/view_load.py [--runs results/bench/d_n10_visible ...] [--out results/view]

For each run: the seconds to build the page (`agent view`), its size, the seconds from
navigation until the page has rendered (`body[data-ready]`, the median of --loads fresh
tabs), and the seconds to open one task's drill-down. Target (issue: the run viewer): a
164-problem × 10-sample run opens in under 3 s and its page stays under 20 MB.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from eval.environment import git_revision, machine  # noqa: E402
from agent.view import view  # noqa: E402
from tests.browser import launch, open_page  # noqa: E402

DEFAULT_RUNS = ["results/bench/d_n10_visible", "results/bench/search_b6000"]


def measure(browser, run: Path, target: Path, loads: int, task: str) -> dict:
    started = time.perf_counter()
    page_path = view([run], target)
    build = time.perf_counter() - started
    times, drill = [], []
    for _ in range(loads):
        started = time.perf_counter()
        opened = open_page(browser, page_path)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        opened.page.click(f"tr[data-task='{task}']")
        opened.page.wait_for_selector("[data-testid=drill] .round")
        drill.append(time.perf_counter() - started)
        assert not opened.errors and not opened.external_requests, (opened.errors, opened.external_requests)
        opened.page.close()
    summary = json.loads((run / "summary.json").read_text())
    return {"run": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run),
            "problems": summary["problems"], "samples": summary["samples"], "page_mb": round(page_path.stat().st_size / 1e6, 2),
            "build_seconds": round(build, 2), "load_seconds_median": round(statistics.median(times), 3),
            "load_seconds_max": round(max(times), 3), "drill_down_seconds_median": round(statistics.median(drill), 3),
            "loads": loads}


def screenshots(browser, run: Path, page_path: Path, out: Path, task: str) -> list[str]:
    opened = open_page(browser, view([run], page_path), width=1280, height=1100)
    opened.page.screenshot(path=str(out / "view_run.png"))
    opened.page.click(f"tr[data-task='{task}']")
    opened.page.locator("[data-testid=drill]").screenshot(path=str(out / "view_task.png"))
    return ["view_run.png", "view_task.png"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "view")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--task", default="HumanEval/0")
    parser.add_argument("--screenshot-run", default="results/bench/search_b6000")
    parser.add_argument("--screenshot-task", default="HumanEval/10")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path("/tmp/repair-agent-view-bench")
    scratch.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        rows = [measure(browser, ROOT / r, scratch / f"{Path(r).name}.html", args.loads, args.task) for r in args.runs]
        shots = screenshots(browser, ROOT / args.screenshot_run, scratch / "shot.html", args.out, args.screenshot_task)
        version = browser.version
        browser.close()
    result = {"command": "benchmarks/view_load.py " + " ".join(sys.argv[1:]), "machine": machine(), "revision": git_revision(),
              "browser": f"Chromium {version} (headless, Debian package), Playwright", "python": platform.python_version(),
              "runs": rows, "screenshots": shots}
    (args.out / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    for row in rows:
        print(f"{row['run']}: {row['problems']} problems, {row['samples']} samples; page {row['page_mb']} MB, "
              f"built in {row['build_seconds']} s; opens in {row['load_seconds_median']} s (median of {row['loads']}, "
              f"max {row['load_seconds_max']}); a task opens in {row['drill_down_seconds_median']} s")


if __name__ == "__main__":
    main()
