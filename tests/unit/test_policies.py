"""The policies behind the registry: each loads by its name and declares options the
configuration has; no code outside `agent/policies` branches on a policy's name; and the
example policy, best-of-n, works as ARCHITECTURE.md says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import SolverConfig
from agent.graph import build_graph
from agent.policies import REGISTRY, policy_named
from agent.policies.base import COMMON_OPTIONS
from agent.trace_events import StopReason
from sandbox import SandboxConfig, open_sandbox
from tests.unit.test_controller import BAD, BAD_TOO, GOOD, solve

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_registered_policy_loads_and_reads_only_real_options(name):
    policy = policy_named(name)
    assert policy.name == name
    assert policy.reads | COMMON_OPTIONS <= set(SolverConfig.model_fields)
    assert "policy" in COMMON_OPTIONS and policy.nodes_per_round >= 1
    build_graph(name)  # compiles: every path of the policy's nodes ends in finish


def test_no_code_outside_the_policies_branches_on_a_policy_name():
    pattern = re.compile(r"""policy\s*(==|!=|in)\s*[("'\[{]""")
    found = [f"{path.relative_to(ROOT)}:{number}"
             for folder in ("agent", "eval", "tools")
             for path in (ROOT / folder).rglob("*.py") if "policies" not in path.parts
             for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found


def test_best_of_n_keeps_the_sample_that_passes_most_examples(sandbox):
    result, llm, tracer = solve(sandbox, [[BAD_TOO, BAD], [GOOD, BAD]], policy="best-of-n", candidates=2, rounds=3)
    assert result.solved and result.stop_reason == StopReason.TESTS_PASS and len(llm.requests) == 2
    assert [r.feedback_passed for r in result.rounds] == [1, 2] and [r.candidates for r in result.rounds] == [2, 2]
    # never shown a verdict: every request is the task alone, sampled
    assert all(len(r["messages"]) == 2 and r["n"] == 2 and r["temperature"] == 0.8 for r in llm.requests)
    assert [e.best for e in tracer.events if e.kind == "candidates_judged"] == [1, 0]


def test_best_of_n_stops_when_its_rounds_are_spent_and_keeps_its_best(sandbox):
    result, llm, _ = solve(sandbox, [[BAD, BAD_TOO], [BAD_TOO, BAD_TOO]], policy="best-of-n", candidates=2, rounds=1)
    assert not result.solved and result.stop_reason == StopReason.ROUNDS_SPENT and len(llm.requests) == 2
    assert [r.kept_previous for r in result.rounds] == [False, True]
    assert result.final_completion == result.rounds[0].completion and result.rounds[-1].feedback_passed == 1


def test_graph_shapes_of_search_and_best_of_n():
    def shape(policy):
        drawable = build_graph(policy).get_graph()
        return sorted(drawable.nodes), sorted((e.source, e.target, e.conditional) for e in drawable.edges)

    assert shape("best-of-n") == (
        ["__end__", "__start__", "draw", "finish", "prepare"],
        [("__start__", "prepare", False), ("draw", "draw", True), ("draw", "finish", True),
         ("finish", "__end__", False), ("prepare", "draw", False)])
    assert shape("search") == (
        ["__end__", "__start__", "draw", "finish", "observe", "prepare"],
        [("__start__", "prepare", False), ("draw", "observe", False), ("finish", "__end__", False),
         ("observe", "draw", True), ("observe", "finish", True), ("prepare", "draw", False)])
