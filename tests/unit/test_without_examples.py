"""The committed variant of HumanEval without examples: no prompt shows one (as `agent
inspect` reads them), the hidden tests are HumanEval's own, and the generator makes the
same file again."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from benchmarks.without_examples import strip_examples
from eval.datasets import read_dataset
from eval.inspection import inspect_problem
from eval.problems import load_problems

pytestmark = pytest.mark.unit
VARIANT = Path(__file__).resolve().parents[2] / "results" / "datasets" / "humaneval_without_examples.jsonl.gz"


def test_no_prompt_shows_an_example_and_the_hidden_tests_are_unchanged():
    original = load_problems()
    variant = read_dataset(VARIANT).problems
    assert len(variant) == 164
    assert all(not inspect_problem(p).visible_tests for p in variant)
    assert all(p.test == original[p.task_id].test and p.entry_point == original[p.task_id].entry_point
               for p in variant)
    assert sum(p.prompt != original[p.task_id].prompt for p in variant) >= 150


def test_the_generator_makes_the_committed_prompts():
    original = load_problems()
    for problem in read_dataset(VARIANT).problems:
        assert strip_examples(original[problem.task_id].prompt, problem.entry_point) == problem.prompt


def test_stripping_keeps_the_description():
    prompt = ('def f(x):\n    """Twice x, for any integer.\n\n    Example:\n    >>> f(2)\n    4\n    f(3) -> 6\n'
              '    """\n')
    assert strip_examples(prompt, "f") == 'def f(x):\n    """Twice x, for any integer.\n\n    """\n'
    assert gzip.decompress(VARIANT.read_bytes())  # a real gzip file
