"""Hostile candidates: every one is judged failed, the jobs around it are unaffected,
and nothing (process, container, scratch file) outlives the sandbox."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from eval.problems import Problem, hidden_job
from sandbox.config import LABEL
from sandbox.verdict import Job, TestCase
from tests.conftest import make_docker_sandbox
from tests.integration.hostile_cases import (
    ADD_PROMPT, ADD_TEST, CORRECT, HOSTILE, PROBE_CODE, PROBE_PROMPT, PROBE_TEST,
)

ADD = Problem(prompt=ADD_PROMPT, entry_point="add", test=ADD_TEST, task_id="add")
HOST_PATH = repr(str(Path(__file__).resolve()))


@pytest.fixture(scope="module")
def sandbox(docker_image):
    os.environ["REPAIR_AGENT_CANARY"] = "host-secret"
    box = make_docker_sandbox(docker_image, workers=1)  # one executor: every job follows the last on it
    session = box.backend.session
    yield box
    box.close()
    os.environ.pop("REPAIR_AGENT_CANARY", None)
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL}.session={session}"], capture_output=True, text=True
    ).stdout.split()
    assert left == [], f"containers left behind: {left}"


def probe_job() -> Job:
    return Job(program=PROBE_PROMPT + PROBE_CODE, entry_point="probe", trusted_prelude=PROBE_PROMPT,
               tests=[TestCase(name="probe", source=PROBE_TEST)], timeout=5)


def test_there_are_enough_hostile_cases():
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_candidate_fails_and_leaves_nothing(sandbox, name):
    completion = HOSTILE[name].replace("HOST_PATH", HOST_PATH)
    before = sandbox.run(hidden_job(ADD, CORRECT))
    hostile = sandbox.run(hidden_job(ADD, completion))
    after = sandbox.run(hidden_job(ADD, CORRECT))
    probe = sandbox.run(probe_job())
    assert before.passed, before.result
    assert not hostile.passed, f"{name} was judged passed"
    assert hostile.result != "passed"
    assert after.passed, f"the job after {name} failed: {after.result}"
    assert probe.passed, f"{name} left something behind: {probe.result}"


def test_a_sandboxed_value_is_a_fresh_builtin(sandbox):
    """A Counter or namedtuple crosses as its base value and compares as one."""
    completion = "    from collections import Counter, namedtuple\n    P = namedtuple('P', 'x y')\n" \
                 "    return [Counter({'a': a}), P(a, b), (a + b).__class__(a + b)]\n"
    problem = Problem(prompt=ADD_PROMPT, entry_point="add", task_id="t",
                      test="def check(candidate):\n    assert candidate(2, 3) == [{'a': 2}, (2, 3), 5]\n")
    assert sandbox.run(hidden_job(problem, completion)).passed
