"""Observe jobs in the real sandbox (Docker and bubblewrap): what each candidate returned
or raised on each input, decided on the trusted side, so hostile candidates can neither
pass for another's behaviour nor stall the comparison; hidden verdicts stay isolated."""

from __future__ import annotations

import time

import pytest

from agent.consensus import behaviour_of, select
from agent.inputs import TestInput
from sandbox import SandboxConfig
from sandbox.sandbox import open_sandbox
from sandbox.verdict import Job, TestCase
from tools.calls import observation_job

PROMPT = "def pairs(xs: list) -> list:\n    \"\"\"Sorted distinct values of xs.\"\"\"\n"
TESTS = ["assert pairs([2, 1, 2]) == [1, 2]", "pairs([])", "pairs([3, 3, 3])", "pairs('no')"]
SORTED = "    return sorted(set(xs))\n"
SORTED_TOO = "    out = []\n    for x in sorted(xs):\n        if x not in out:\n            out.append(x)\n    return out\n"
WRONG = "    return sorted(xs)\n"
FORGER = ("    import sys\n    print('=' + '0' * 20)\n    sys.stdout.flush()\n"
          "    class L(list):\n        def __eq__(self, other):\n            return True\n"
          "    return L(sorted(set(xs)) + [99])\n")
LIAR = "    class ValueError(Exception):\n        pass\n    raise ValueError('looks like a builtin')\n"
LOOPER = "    while True:\n        pass\n"
BROKEN = "    return (\n"


@pytest.fixture(scope="module", params=["docker", "process"])
def sandbox(request, docker_image):
    with open_sandbox(SandboxConfig(backend=request.param, workers=2, spares=0), say=lambda m: None) as box:
        yield box


def observe(box, body: str, tests=TESTS, timeout: float = 1.0):
    return box.run(observation_job(PROMPT, "pairs", body, tests, PROMPT, timeout))


def test_equal_behaviour_gets_equal_outcomes(sandbox):
    one, two, wrong = (observe(sandbox, body) for body in (SORTED, SORTED_TOO, WRONG))
    assert [t.observed for t in one.tests] == [t.observed for t in two.tests]
    assert one.tests[0].observed.startswith("=") and one.tests[0].passed
    assert one.tests[3].observed == "=" + one.tests[3].observed[1:]  # a string's sorted set is a value too
    assert wrong.tests[0].observed != one.tests[0].observed and not wrong.tests[0].passed
    assert wrong.tests[1].observed == one.tests[1].observed  # both return [] on []
    assert one.tests[2].got == "[3]"


def test_a_forger_cannot_pass_for_another_behaviour(sandbox):
    honest, forged = observe(sandbox, SORTED), observe(sandbox, FORGER)
    assert [t.observed for t in forged.tests] != [t.observed for t in honest.tests]
    assert not forged.tests[0].passed  # the subclass crossed as a plain list, its __eq__ stayed behind
    assert all(t.observed.startswith("=") for t in forged.tests)


def test_exceptions_load_errors_and_timeouts_are_outcomes(sandbox):
    liar = observe(sandbox, LIAR)
    assert [t.observed for t in liar.tests] == ["!ValueError"] * 4  # a type's name, never a value's digest
    assert not any(t.passed for t in liar.tests)
    broken = observe(sandbox, BROKEN)
    assert {t.observed for t in broken.tests} == {"load SyntaxError"}
    started = time.monotonic()
    looper = observe(sandbox, LOOPER, tests=TESTS * 3, timeout=0.5)
    assert {t.observed for t in looper.tests} == {"timeout"}
    assert time.monotonic() - started < 6  # two timeouts, then the rest is not run


def test_observe_jobs_are_not_secret_but_hidden_jobs_stay_isolated(sandbox):
    job = observation_job(PROMPT, "pairs", SORTED, TESTS, PROMPT)
    assert job.isolation_key() is None
    hidden = Job(program=PROMPT + SORTED, entry_point="pairs", tests=[TestCase(name="t", source=TESTS[0])])
    assert hidden.isolation_key() == hidden.secret_key()
    before = sandbox.pool.retired_for_isolation
    for _ in range(6):
        assert observe(sandbox, SORTED).tests[0].passed
    assert sandbox.pool.retired_for_isolation == before  # no executor retired for them


def test_the_consensus_picks_the_agreeing_pair_over_a_forger(sandbox):
    inputs = [TestInput(source="example", test=TESTS[0], call="pairs([2, 1, 2])")] + [
        TestInput(source="mutation", test=t, call=t) for t in TESTS[1:]]
    bodies = [FORGER, WRONG, SORTED, LIAR, SORTED_TOO, BROKEN]
    selection = select(inputs, [behaviour_of(observe(sandbox, body)) for body in bodies])
    assert bodies[selection.chosen] == SORTED and selection.leader.members == [2, 4]
    assert selection.dominant and selection.reason == "examples"


BIG_SET = "    return set(range(450_000))\n"
EIGHT_INPUTS = [f"pairs([{i}])" for i in range(8)]


def test_a_value_too_costly_to_digest_cannot_hold_the_trusted_side(sandbox):
    """A 450,000-element set per input: each input ends within its own deadline (a timeout
    or the `too_large` outcome, never a digest that runs on), and the two-timeouts rule
    holds the whole job near the honest candidate's cost."""
    started = time.monotonic()
    verdict = observe(sandbox, BIG_SET, EIGHT_INPUTS)
    elapsed = time.monotonic() - started
    honest = observe(sandbox, SORTED, EIGHT_INPUTS)
    assert {t.observed for t in verdict.tests} <= {"timeout", "too_large"}, [t.observed for t in verdict.tests]
    assert all(t.duration < 1.0 + 0.5 for t in verdict.tests), [round(t.duration, 2) for t in verdict.tests]
    assert elapsed < 8 * 1.0, f"{elapsed:.1f} s for 8 inputs"
    assert all(t.observed.startswith("=") for t in honest.tests)


def test_integers_of_any_size_digest_exactly(sandbox):
    """Over 4,300 digits repr() refuses; the digest reads the value in hexadecimal instead."""
    plus = observe(sandbox, "    return 10**5000 + len(xs)\n", ["pairs([1])"])
    minus = observe(sandbox, "    return -7 * 10**6000\n", ["pairs([1])"])
    again = observe(sandbox, "    return 10**5000 + 1\n", ["pairs([1])"])
    assert plus.tests[0].observed.startswith("=") and minus.tests[0].observed.startswith("=")
    assert plus.tests[0].observed != minus.tests[0].observed
    assert plus.tests[0].observed == again.tests[0].observed
