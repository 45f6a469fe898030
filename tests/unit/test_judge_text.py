"""What the trusted side writes about a candidate's values is bounded in size and cost."""

import time

import pytest

from sandbox.judge import REPR_LIMIT, _exception_text, _safe_repr


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, 1 + 2j, "it's", b"\x00", [], [1, [2]], (1,), (1, 2), {}, {"a": [1]}, set(), {3},
    frozenset(), frozenset({4}),
])
def test_small_values_read_as_repr(value):
    assert _safe_repr(value) == repr(value)


def test_huge_values_are_cut_without_being_built():
    huge = [10**4299 + i for i in range(4600)]
    started = time.perf_counter()
    text = _safe_repr(huge)
    assert time.perf_counter() - started < 0.1
    assert len(text) <= REPR_LIMIT and text.startswith("[<int of ")
    assert len(_safe_repr("x" * 10_000_000)) <= REPR_LIMIT
    assert len(_safe_repr(list(range(10**6)))) <= REPR_LIMIT


def test_exception_text_is_bounded():
    assert _exception_text(AssertionError()) == ""
    assert _exception_text(AssertionError("wrong")) == "wrong"
    assert _exception_text(KeyError("k")) == "'k'"
    assert len(_exception_text(ValueError([10**4000] * 1000))) <= REPR_LIMIT
