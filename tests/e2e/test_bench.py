"""`agent bench` end to end on a few HumanEval problems: the real vLLM server and the real
Docker sandbox, a run killed with SIGKILL mid-way and resumed, pass@k per round recomputed
independently from attempts.jsonl, and a changed configuration refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.trace_events import ModelCall, read_trace
from tests.unit.test_bench import reference_pass_at_k

ROOT = Path(__file__).resolve().parents[2]


def bench_command(out: Path, base_url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agent", "bench", "--limit", "3", "--n", "2", "--k", "1,2", "--rounds", "1",
            "--temperature", "0.8", "--max-tokens", "300", "--concurrency", "4", "--sandbox", "docker",
            "--base-url", base_url,
            "--out", str(out), *extra]


def finished_samples(path: Path) -> dict[tuple[str, int], list[str]]:
    if not path.exists():
        return {}
    lines = []
    for raw in path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    done = {(x["task_id"], x["sample"]) for x in lines if x.get("final")}
    return {key: sorted(json.dumps(x, sort_keys=True) for x in lines if (x["task_id"], x["sample"]) == key)
            for key in done}


def test_bench_killed_with_sigkill_resumes_without_losing_or_duplicating(tmp_path, base_url):
    out = tmp_path / "run"
    attempts = out / "attempts.jsonl"
    process = subprocess.Popen(bench_command(out, base_url), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not finished_samples(attempts) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() is None, f"the bench ended before it could be killed: {process.stderr.read()[-2000:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    before = finished_samples(attempts)
    assert 1 <= len(before) < 6, "the kill must land mid-run"

    done = subprocess.run(bench_command(out, base_url), cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming" in done.stderr
    after = finished_samples(attempts)
    assert set(after) == {(f"HumanEval/{i}", s) for i in range(3) for s in range(2)}
    for key, lines in before.items():
        assert after[key] == lines, f"{key} was reported done before the kill and must not change"
    lines = [json.loads(x) for x in attempts.read_text().splitlines()]
    keys = [(x["task_id"], x["sample"], x["round"]) for x in lines]
    assert len(keys) == len(set(keys)), "attempts.jsonl holds a duplicate"
    assert all(isinstance(x["hidden_passed"], bool) and x["visible_passed"] in (True, False, None) for x in lines)

    run = json.loads((out / "run.json").read_text())
    assert run["experiment"]["solver"]["max_tokens"] == 300  # the flag reaches the solver's configuration
    assert run["dev_split"][0] == "HumanEval/0" and len(run["dev_split"]) == 40
    summary = json.loads((out / "summary.json").read_text())
    for r in ("0", "1"):
        for k in ("1", "2"):
            assert summary["pass_at_k"][r][k] == pytest.approx(reference_pass_at_k(lines, 2, int(k), int(r)), abs=1e-4)
    assert summary["complete"] and summary["problems"] == 3 and summary["oracle"] is False
    assert (out / "report.md").read_text().startswith("# Bench report")
    assert (out / "plots" / "pass_at_k_by_round.png").stat().st_size > 1000
    trace = read_trace(out / "trace.jsonl")
    calls = [e for e in trace if isinstance(e, ModelCall)]
    assert {(e.task, e.sample) for e in calls} == set(after), "every finished sample's trace holds what the model was told"
    assert all(e.messages and e.replies for e in calls)
    (session,) = [json.loads(x) for x in (out / "sessions.jsonl").read_text().splitlines()]
    assert session["samples"] == 6 - len(before)  # the resumed session ran only the rest (SIGKILL records none)

    changed = subprocess.run(bench_command(out, base_url, "--candidates", "2"), cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert changed.returncode == 2
    assert "another configuration (solver.candidates: 1 -> 2" in changed.stderr and "Traceback" not in changed.stderr


def test_a_small_sweep_then_its_runs_exported_as_training_data(tmp_path, base_url):
    """Two temperatures against the real server, then `agent export` of the real runs:
    every line loads with the strict schema, and no hidden test text is in any message.
    Last, `agent view` of the sweep opens in headless Chromium as a comparison."""
    from agent.export import PreferenceExample, SFTExample
    from eval.problems import load_problems

    out = tmp_path / "sweep"
    done = subprocess.run([sys.executable, "-m", "agent", "sweep", "--out", str(out), "--grid", "temperature=0,0.8",
                           "--", "--limit", "2", "--n", "2", "--k", "1,2", "--rounds", "1", "--max-tokens", "300",
                           "--concurrency", "8", "--base-url", base_url], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    points = ["temperature-0", "temperature-0.8"]
    for name in points:
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["complete"] and summary["problems"] == 2 and set(summary["pass_at_k"]) == {"0", "1"}
    assert "| temperature | problems | round |" in (out / "report.md").read_text()
    assert (out / "plots" / "pass_at_k_by_temperature.png").stat().st_size > 1000

    hidden = [line.strip() for p in load_problems().values() if p.task_id in ("HumanEval/0", "HumanEval/1")
              for line in (p.test or "").splitlines() if line.strip().startswith("assert")]
    for fmt, model in (("sft", SFTExample), ("preference", PreferenceExample)):
        target = tmp_path / f"{fmt}.jsonl"
        exported = subprocess.run([sys.executable, "-m", "agent", "export", *(str(out / n) for n in points),
                                   "--format", fmt, "--out", str(target), "--no-dedupe"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)
        assert exported.returncode == 0, exported.stderr[-2000:]
        lines = [json.loads(x) for x in target.read_text().splitlines()]
        examples = [model.model_validate(line, strict=True) for line in lines]
        text = target.read_text()
        assert not [a for a in hidden if json.dumps(a)[1:-1] in text]
        if fmt == "sft":
            assert examples, "a sample of HumanEval/0 or /1 passes in 8 tries"
            assert all(e.messages[-1].role == "assistant" and e.metadata.verified_by == "hidden" for e in examples)
    _view_of_the_sweep(out, points)


def _view_of_the_sweep(out: Path, points: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser import launch, open_page

    done = subprocess.run([sys.executable, "-m", "agent", "view", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and f"page: {out / 'view.html'}" in done.stderr, done.stderr
    with sync_playwright() as playwright:
        browser = launch(playwright)
        opened = open_page(browser, out / "view.html")
        page = opened.page
        assert page.locator("[data-testid=comparison]").count() == 1
        assert page.eval_on_selector_all("nav.tabs button", "b => b.map(x => x.dataset.tab)") == ["compare", *points]
        page.select_option("[data-testid=compare-mode]", "all")
        assert page.inner_text("[data-testid=compare-count]") == "2 tasks"
        for name in points:  # each point's pass@1 on the page is its summary.json's
            page.click(f"nav.tabs button[data-tab='{name}']")
            summary = json.loads((out / name / "summary.json").read_text())
            assert float(page.get_attribute("[data-testid=pass1]", "data-value")) == summary["pass_at_k"]["1"]["1"]
        assert opened.errors == [] and opened.external_requests == []
        browser.close()
