"""`agent view`'s page in a real headless Chromium, opened from file:// as a person would:
a committed 164-problem run, a run whose candidate code is hostile, and a comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from eval.report import candidates_by_round
from eval.run_dir import RunDir
from agent.view import view
from tests.browser import launch, open_page
from tests.unit.test_view import make_run

ROOT = Path(__file__).resolve().parents[2]
SEARCH = ROOT / "results" / "bench" / "search_b6000"
GREEDY = ROOT / "results" / "bench" / "a_greedy_visible"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The unit tests' run with hostile candidate code, made in a thread of its own: the
    bench's event loop and Playwright's cannot share one."""
    from concurrent.futures import ThreadPoolExecutor

    from sandbox import SandboxConfig, open_sandbox

    def made() -> Path:
        with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
            return make_run(tmp_path_factory.mktemp("hostile"), box)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(made).result()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def final_rows(run: Path) -> dict[str, list]:
    """Each task's samples, as the rounds they hold at the run's last round."""
    info = RunDir(run).run_info()
    per_sample = candidates_by_round(RunDir(run).load_attempts(repair=False), info.rounds)
    tasks: dict[str, list] = {}
    for (task, _), rows in per_sample.items():
        tasks.setdefault(task, []).append(rows)
    return tasks


def test_a_committed_run_shows_its_pass_at_1_its_unsolved_tasks_and_a_task_s_rounds(browser, tmp_path):
    opened = open_page(browser, view([SEARCH], tmp_path / "page.html"))
    page = opened.page
    summary = json.loads((SEARCH / "summary.json").read_text())
    last = str(summary["rounds"])
    assert float(page.get_attribute("[data-testid=pass1]", "data-value")) == summary["pass_at_k"][last]["1"]
    assert page.inner_text("[data-testid=pass1]") == f"{100 * summary['pass_at_k'][last]['1']:.1f}%"

    tasks = final_rows(SEARCH)
    unsolved = sorted(t for t, samples in tasks.items() if not any(rows[-1].hidden_passed for rows in samples))
    page.select_option("[data-testid=task-filter]", "unsolved")
    shown = page.eval_on_selector_all("[data-testid=task-table] tbody tr", "rows => rows.map(r => r.dataset.task)")
    assert sorted(shown) == unsolved and page.inner_text("[data-testid=task-count]") == f"{len(unsolved)} of 164 tasks"

    page.select_option("[data-testid=task-filter]", "all")
    page.click("tr[data-task='HumanEval/0']")
    drill = page.locator("[data-testid=drill]")
    assert drill.get_attribute("data-task") == "HumanEval/0"
    lines = sorted((x for x in RunDir(SEARCH).load_attempts(repair=False) if x.task_id == "HumanEval/0"),
                   key=lambda x: x.round)
    assert drill.locator(".round").count() == len(lines)
    first_code = drill.locator(".round").first.locator("details.answer pre.code").inner_text()  # shown, open
    assert lines[0].completion.strip().splitlines()[-1].strip() in first_code
    assert "hidden (judged after the agent returned" in drill.inner_text()
    assert opened.errors == [] and opened.external_requests == []


def test_hostile_code_is_shown_as_text_and_fetches_nothing(browser, run_dir, tmp_path):
    opened = open_page(browser, view([run_dir], tmp_path / "page.html"))
    page = opened.page
    page.click("tr[data-task='demo/10']")
    page.select_option("[data-testid=sample-picker]", "1")
    text = page.inner_text("[data-testid=drill]")
    assert "</script><img src=http://198.51.100.7/x.png onerror=alert(1)>" in text
    assert page.locator("img").count() == 0
    assert opened.dialogs == [] and opened.errors == [] and opened.external_requests == []
    # the repair's diff against the hostile round
    assert page.locator("[data-testid=drill] .round[data-round='1'] pre.diff .del").count() >= 1


def test_two_runs_open_as_a_comparison_per_task(browser, tmp_path):
    opened = open_page(browser, view([GREEDY, SEARCH], tmp_path / "page.html"))
    page = opened.page
    greedy, search = final_rows(GREEDY), final_rows(SEARCH)
    solved = lambda tasks, t: any(rows[-1].hidden_passed for rows in tasks.get(t, []))  # noqa: E731
    expected = [t for t in search if solved(search, t) and not solved(greedy, t)]
    assert page.inner_text("[data-testid=compare-count]") == f"{len(expected)} tasks"  # solved by B, not by A
    page.select_option("[data-testid=compare-mode]", "a-not-b")
    back = [t for t in greedy if solved(greedy, t) and not solved(search, t)]
    assert page.inner_text("[data-testid=compare-count]") == f"{len(back)} tasks"
    page.click("nav.tabs button[data-tab='search_b6000']")
    assert page.locator("[data-testid=pass1]").count() == 1
    assert opened.errors == [] and opened.external_requests == []
