"""The example reader on a corpus written for it (tests/data/docstring_corpus.py), in the
styles people use: it finds at least 95% of the examples a person reads, and never one
the reference solution fails (an invented example would veto right answers)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from tests.data.docstring_corpus import CORPUS
from tools.visible_tests import extract_visible_tests

pytestmark = pytest.mark.unit


def prompt_of(entry: dict) -> str:
    doc = textwrap.indent(textwrap.dedent(entry["doc"]).strip("\n"), "    ")
    return f'{entry["signature"]}\n    """\n{doc}\n    """\n'


def entry_point(entry: dict) -> str:
    return entry["signature"].split("(")[0].removeprefix("def ").strip()


def read(check: str) -> tuple[str, object]:
    """(the call, the expected value) of `assert CALL == V` or `assert abs(CALL - V) < 1e-6`."""
    test = ast.parse(check).body[0].test
    if isinstance(test.left, ast.Call) and isinstance(test.left.func, ast.Name) and test.left.func.id == "abs":
        difference = test.left.args[0]
        return ast.unparse(difference.left), ast.literal_eval(difference.right)
    return ast.unparse(test.left), ast.literal_eval(test.comparators[0])


def passes(entry: dict, check: str) -> bool:
    namespace: dict = {}
    try:
        exec(entry["signature"] + "\n" + entry["solution"] + check + "\n", namespace)  # our own corpus: trusted
    except AssertionError:
        return False
    return True


def outcome() -> tuple[int, int, list[str], list[str]]:
    wanted = found = 0
    false, missed = [], []
    for entry in CORPUS:
        checks = extract_visible_tests(prompt_of(entry), entry_point(entry))
        false += [check for check in checks if not passes(entry, check)]
        got = {(ast.unparse(ast.parse(call)), repr(value)) for call, value in map(read, checks)}
        for call, value in entry["examples"]:
            wanted += 1
            if (ast.unparse(ast.parse(call)), repr(ast.literal_eval(value))) in got:
                found += 1
            else:
                missed.append(f"{call} -> {value}")
        invented = len(checks) - sum((ast.unparse(ast.parse(c)), repr(ast.literal_eval(v))) in got
                                     for c, v in entry["examples"])
        false += [f"{entry_point(entry)}: {invented} more than labelled"] if invented > 0 else []
    return wanted, found, false, missed


def test_the_reader_finds_95_percent_of_the_corpus_and_never_a_false_example():
    wanted, found, false, missed = outcome()
    assert wanted >= 40
    assert not false, false
    assert found >= 0.95 * wanted, f"{found} of {wanted}; missed: {missed}"


def test_the_corpus_is_right():
    """Every labelled example holds for its reference solution (the corpus itself is checked)."""
    for entry in CORPUS:
        for call, value in entry["examples"]:
            check = f"assert {call} == {value}"
            assert passes(entry, check), (entry_point(entry), check)
