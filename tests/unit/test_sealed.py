"""The agent is sealed: the hidden test never reaches it. The same scripted run, given two
problems that differ only in their hidden test (one of them hostile: it imports a module
that does not exist, and carries a marker), takes the same trajectory in every round
record but the hidden verdicts, and nothing of that test shows in any model message,
feedback verdict or trace event of the agent's own."""

from __future__ import annotations

import asyncio
import json

import pytest

from agent.config import SolverConfig
from agent.solver import Solver
from agent.trace import Tracer
from eval.problems import Problem
from sandbox import SandboxConfig, open_sandbox
from tests.unit.test_controller import PROMPT, TEST, FakeLLM
from tests.unit.test_search import BAD, BODY_BAD, BODY_GOOD, GOOD, GOOD_TOO, TESTS

MARKER = "sealed-marker-91c4"
HOSTILE_TEST = f"import no_such_module_91c4  # {MARKER}\n" + TEST


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


def run(sandbox, test: str, script, **config):
    llm, tracer = FakeLLM(script), Tracer(task="median")
    problem = Problem(prompt=PROMPT, entry_point="median", test=test, task_id="median")
    result = asyncio.run(Solver(llm, sandbox, SolverConfig(**config), "qwen2.5-coder").solve(problem, tracer))
    return result, llm, tracer


HIDDEN_FIELDS = {"error_kind", "drawn_passed"}  # hidden verdicts beside the hidden_* fields (records.py)


def without_hidden(value):
    """A record's trajectory: everything but the hidden verdicts and the wall-clock times."""
    if isinstance(value, dict):
        return {k: without_hidden(v) for k, v in value.items()
                if "hidden" not in k and "seconds" not in k and k not in HIDDEN_FIELDS}
    if isinstance(value, list):
        return [without_hidden(v) for v in value]
    return value


SCRIPTS = {
    "repair": ([[BAD], [BAD], [GOOD]], {"rounds": 3}),
    "search": ([[TESTS], [BAD, BAD, BAD], [GOOD, BAD, BAD], [GOOD]], {"policy": "search", "candidates": 3,
                                                                    "rounds": 3, "consensus_margin": 3,
                                                                    "prefill": False}),
    "search-consensus": ([[TESTS], [GOOD, GOOD_TOO, BAD]], {"policy": "search", "candidates": 3, "prefill": False}),
    "search-prefilled": ([[TESTS], [BODY_GOOD, BODY_GOOD, BODY_BAD]], {"policy": "search", "candidates": 3}),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_the_hidden_test_does_not_change_the_trajectory(sandbox, name):
    script, config = SCRIPTS[name]
    plain, plain_llm, _ = run(sandbox, TEST, [list(s) for s in script], **config)
    hostile, hostile_llm, tracer = run(sandbox, HOSTILE_TEST, [list(s) for s in script], **config)
    assert [without_hidden(r.model_dump()) for r in plain.rounds] == \
           [without_hidden(r.model_dump()) for r in hostile.rounds]
    assert plain_llm.requests == hostile_llm.requests
    # the hostile hidden test does fail its own judging: the verdicts differ where they may
    assert plain.rounds[-1].hidden_passed and not hostile.rounds[-1].hidden_passed
    seen = json.dumps(hostile_llm.requests) + json.dumps(
        [e.model_dump() for e in tracer.events if e.kind != "hidden_verdict"], default=str)
    assert "no_such_module_91c4" not in seen and MARKER not in seen


def test_only_the_oracle_mode_gets_the_hidden_check(sandbox):
    from eval.problems import Oracle

    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    honest = Solver(FakeLLM([]), sandbox, SolverConfig(), "qwen2.5-coder").context(problem, Tracer())
    oracle = Solver(FakeLLM([]), sandbox, SolverConfig(feedback="hidden"), "qwen2.5-coder").context(problem, Tracer())
    assert honest.oracle is None and not hasattr(honest.problem, "test")
    assert isinstance(oracle.oracle, Oracle) and not hasattr(oracle.problem, "test")
    result, _, _ = run(sandbox, TEST, [[BAD], [GOOD]], feedback="hidden")
    assert result.oracle and result.rounds[0].feedback_error is not None


def test_the_public_problem_keeps_everything_but_the_hidden_test():
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median",
                      visible_tests=["assert median([1]) == 1"], code="def median(xs):\n    return 0\n")
    public = problem.public()
    assert public.model_dump() == problem.model_dump(exclude={"test"})
    assert "test" not in type(public).model_fields
