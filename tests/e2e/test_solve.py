"""`agent solve` end to end: the real vLLM server (the embedded default on port 8000,
started here once) and the real Docker sandbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.trace_events import TRACE_SCHEMA, ModelCall, read_trace


ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(tmp_path: Path, problem: Path, *options: str) -> tuple[int, dict, list[dict], str]:
    """result.json, and the trace read with the typed schema (then as plain dicts)."""
    done = subprocess.run([sys.executable, "-m", "agent", "solve", str(problem), "--out", str(tmp_path), *options],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    typed = read_trace(tmp_path / "trace.jsonl")
    assert typed and all(e.v == TRACE_SCHEMA for e in typed)
    assert [e.id for e in typed] == list(range(1, len(typed) + 1))
    return done.returncode, result, [e.model_dump() for e in typed], done.stdout


@pytest.mark.parametrize("example", ["humaneval_4.json", "humaneval_12.json"])
def test_solve_humaneval_problems(tmp_path, base_url, example):
    code, result, trace, stdout = run(tmp_path, EXAMPLES / example, "--base-url", base_url)
    assert code == (0 if result["solved"] else 1)
    assert result["judged_on"] == "hidden" and result["feedback"] == "visible" and not result["oracle"]
    assert result["rounds"][0]["round"] == 0 and "round 0" in stdout
    entry_point = json.loads((EXAMPLES / example).read_text())["entry_point"]
    assert stdout.count(f"def {entry_point}(") == 1, stdout  # the final code once, not the stub and then the code
    assert " 1 rounds" not in stdout and " 1 tokens" not in stdout
    llm = [e for e in trace if e["kind"] == "model_call"]
    assert llm and all(e["messages"] and e["replies"] for e in llm)
    assert result["usage"]["completion_tokens"] == sum(e["tokens"]["completion"] for e in llm)
    assert trace[-2]["kind"] == "stop" and trace[-2]["reason"] == result["stop_reason"]


def test_repair_example_runs_a_repair_round_with_the_failing_call(tmp_path, base_url):
    code, result, trace, _ = run(tmp_path, EXAMPLES / "repair_median.json", "--base-url", base_url, "--rounds", "2")
    first = result["rounds"][0]
    assert first["action"] == "given" and first["feedback_passed"] < first["feedback_total"]
    assert len(result["rounds"]) >= 2, "a repair round must run after the failing given code"
    repair_request = next(e for e in trace if e["kind"] == "model_call")
    told = repair_request["messages"][-1]["content"]
    assert "called median([4, 1, 3, 2])" in told and "expected 2.5" in told and "got 3" in told


def test_solve_writes_a_page_that_shows_its_rounds(tmp_path, base_url):
    """The page `agent solve` prints beside its trace, opened in headless Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch, open_page

    done = subprocess.run([sys.executable, "-m", "agent", "solve", str(EXAMPLES / "repair_median.json"), "--out",
                           str(tmp_path), "--base-url", base_url, "--rounds", "2"], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    page_path = tmp_path / "view.html"
    assert f"page: {page_path}" in done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    with sync_playwright() as playwright:
        browser = launch(playwright)
        opened = open_page(browser, page_path)
        drill = opened.page.locator("[data-testid=drill]")  # the one problem, opened
        assert drill.locator(".round").count() == len(result["rounds"]) >= 2
        assert result["rounds"][0]["completion"].strip().splitlines()[0] in drill.inner_text()
        assert opened.page.locator("svg.timeline rect").count() >= 2  # its spans, from the trace
        assert opened.errors == [] and opened.external_requests == []
        browser.close()


def test_react_policy(tmp_path, base_url):
    """Each step is a round: the model's tool call ran, and what it answered was the next
    request's last message."""
    code, result, trace, _ = run(tmp_path, EXAMPLES / "repair_median.json", "--base-url", base_url,
                                 "--policy", "react", "--rounds", "2")
    assert result["policy"] == "react" and all(r["action"] == "react" for r in result["rounds"])
    assert len(result["rounds"]) >= 2 and all(r["observation"] for r in result["rounds"])
    assert "expected 2.5" in result["rounds"][0]["observation"]  # step 0 tested the problem's given code
    requests = [e for e in trace if e["kind"] == "model_call" and e["node"] == "act"]
    retries = [e for e in trace if e["kind"] == "retry"]  # a malformed call is corrected once within its step
    assert len(requests) == len(result["rounds"]) - 1 + len(retries)
    # the text protocol's grammar holds every reply to its form: a thought, an action, one block
    for request in requests:
        assert re.match(r"Thought: [^\n]+\nAction: (run_tests|run_python|submit)\n```python\n", request["replies"][0])
    for step, following in zip(result["rounds"], requests):
        assert following["messages"][-1]["content"].endswith(step["observation"])
    tools = [e for e in trace if e["kind"] == "tool_use" and e["tool"] in ("run_tests", "run_python", "submit")
             and not e["error"]]
    assert tools, "no tool call of the model ran"


def test_solve_without_base_url_reuses_the_default_server(tmp_path, base_url):
    env = {k: v for k, v in os.environ.items() if k != "AGENT_BASE_URL"}
    done = subprocess.run([sys.executable, "-m", "agent", "solve", str(EXAMPLES / "is_even.json"), "--out",
                           str(tmp_path), "--rounds", "1"], capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env=env)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "already running" in done.stderr  # no second server was started
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["judged_on"] == "visible" and result["rounds"][0]["completion_tokens"] > 0


def test_trace_renders(tmp_path, base_url):
    _, _, trace, _ = run(tmp_path, EXAMPLES / "is_even.json", "--base-url", base_url, "--rounds", "1")
    done = subprocess.run([sys.executable, "-m", "agent", "trace", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    calls = [ModelCall.model_validate(e) for e in trace if e["kind"] == "model_call"]
    tokens = sum(c.tokens.completion for c in calls)
    assert f"{len(trace)} events, {tokens} generated tokens" in done.stdout  # the file's own counts
    for call in calls:  # each model call's panel, with its reply
        assert f"#{call.id} · round {call.round} · {call.node} · model call" in done.stdout
        assert call.replies[0].strip().splitlines()[0][:40] in done.stdout


def test_search_policy(tmp_path, base_url):
    """Batches of samples, each run on the examples and made-up inputs in the sandbox, the
    answer chosen by the clusters; every candidate drawn is judged on the hidden tests."""
    code, result, trace, stdout = run(tmp_path, EXAMPLES / "humaneval_12.json", "--base-url", base_url,
                                      "--policy", "search", "--candidates", "3", "--rounds", "1",
                                      "--token-budget", "3000")
    assert result["policy"] == "search" and code == (0 if result["solved"] else 1)
    rounds = result["rounds"]
    assert rounds and all(r["action"] in ("sample", "sample+repair") and len(r["drawn"]) >= 3 for r in rounds)
    assert all(r["drawn_passed"] is not None and r["selected_by"] and r["cluster_size"] >= 1 for r in rounds)
    drawn = [c for r in rounds for c in r["drawn"]]
    assert result["final_completion"] in drawn
    inputs = next(e for e in trace if e["kind"] == "inputs")["inputs"]
    assert {"example", "mutation"} <= {i["source"] for i in inputs}
    observed = [e for e in trace if e["kind"] == "selection"]
    assert len(observed) == len(rounds) and all(e["clusters"] for e in observed)
    members = sorted(m for c in observed[-1]["clusters"] for m in c["members"])
    assert members == list(range(len(drawn)))  # every candidate in exactly one cluster
    assert observed[-1]["reason"] == rounds[-1]["selected_by"]
    # prefilled (the default): the real server continued the begun answers, so no reply
    # restates the prompt: the proposal goes on from `assert `, each draw from inside the body
    calls = [e for e in trace if e["kind"] == "model_call"]
    proposal, draws = calls[0], [c for c in calls if c["node"] == "draw"]
    assert proposal["messages"][-1] == {"role": "assistant", "content": "```python\nassert "}
    assert "longest(" in proposal["replies"][0].splitlines()[0]
    for call in draws:
        assert call["messages"][-1]["role"] == "assistant" and call["messages"][-1]["content"].endswith('"""\n')
        assert all("def longest(" not in reply and not reply.lstrip().startswith("```") for reply in call["replies"])
