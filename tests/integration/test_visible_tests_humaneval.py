"""Visible tests on all of HumanEval: coverage, and the canonical solutions pass every
extracted check except where the docstring itself is wrong (listed)."""

from eval.problems import load_problems, trusted_prelude
from tests.conftest import make_docker_sandbox
from tools.calls import checks_job
from tools.visible_tests import extract_visible_tests

# Checks a canonical solution fails because the docstring's own example is wrong.
DOCSTRING_ERRORS = {
    "HumanEval/47": "median([-10, 4, 6, 1000, 10, 20]) is 8.0, the docstring says 15.0",
    "HumanEval/116": "the examples sort by value; the task sorts by the number of ones in binary",
    "HumanEval/148": 'writes ("Venus") for the one-element tuple ("Venus",)',
}


def test_coverage_and_canonical_solutions(docker_image):
    problems = load_problems()
    extracted = {tid: extract_visible_tests(p.prompt, p.entry_point) for tid, p in problems.items()}
    assert sum(bool(t) for t in extracted.values()) >= 150
    failing = {}
    box = make_docker_sandbox(docker_image, workers=2)
    try:
        for tid, tests in extracted.items():
            if not tests:
                continue
            problem = problems[tid]
            job = checks_job(problem.prompt, problem.entry_point, problem.model_extra["canonical_solution"], tests,
                            trusted_prelude(problem.prompt))
            verdict = box.run(job)
            if not verdict.passed:
                failing[tid] = [t.statement for t in verdict.tests if not t.passed]
    finally:
        box.close()
    assert set(failing) == set(DOCSTRING_ERRORS), failing
