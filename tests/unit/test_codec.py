import math
from collections import Counter, OrderedDict, namedtuple
from enum import IntEnum

import pytest

from sandbox.executor import MAX_DEPTH, MAX_INT_HEX_DIGITS, CodecError, DecodeTimeout, decode, encode


@pytest.mark.parametrize("value", [
    None, True, False, 0, -1, 2**63, -(2**200), 1.5, -0.0, math.inf, -math.inf, 1 + 2j, "", "héllo",
    "\ud800", b"\x00\xff", [1, [2, [3]]], (1, "a"), {"a": [1]}, {1, 2}, frozenset({3}), {(1, 2): {"x": None}}, [],
])
def test_roundtrip_gives_equal_builtins(value):
    back = decode(encode(value))
    assert back == value and type(back) is type(value)


def test_nan_roundtrips():
    assert math.isnan(decode(encode(float("nan"))))


def test_subclasses_cross_as_their_base_value():
    Point = namedtuple("Point", "x y")

    class Color(IntEnum):
        RED = 3

    class Liar(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    for value, expected, kind in [
        (Counter("aab"), {"a": 2, "b": 1}, dict), (OrderedDict(a=1), {"a": 1}, dict),
        (Point(1, 2), (1, 2), tuple), (Color.RED, 3, int), (Liar("x"), "x", str),
    ]:
        back = decode(encode(value))
        assert type(back) is kind and back == expected
    assert decode(encode(Liar("x"))) != "y"


@pytest.mark.parametrize("value", [object(), iter([1]), lambda: 1, type, Ellipsis, bytearray(b"x")])
def test_other_types_do_not_cross(value):
    with pytest.raises(CodecError):
        encode(value)


def test_nesting_is_bounded():
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(CodecError):
        encode(deep)
    with pytest.raises(CodecError):
        decode(_nested(MAX_DEPTH + 5))


def _nested(depth):
    node = ["l", []]
    for _ in range(depth):
        node = ["l", [node]]
    return node


@pytest.mark.parametrize("node", [
    1.5, {"a": 1}, ["x", 1], ["f", "not-a-float"], ["f", "1" * 100], ["I", 5], ["b", "!!"], ["l", 1], [],
    ["s", [["l", []]]], ["d", [[["l", []], 1]]], ["d", [[1]]], ["c", "0x1p0"], [1, 2],
])
def test_decoder_is_strict(node):
    with pytest.raises(CodecError):
        decode(node)


def test_huge_ints_cross_beyond_the_decimal_digit_limit():
    value = 7 ** 20000
    assert decode(encode(value)) == value


P = 2**61 - 1  # ints k * P + 1 share one hash


def test_hash_flooding_is_refused_in_linear_time():
    import time

    colliding = [["I", hex(k * P + 1)] for k in range(40000)]
    for node in (["s", colliding], ["F", colliding], ["d", [[key, 0] for key in colliding]]):
        started = time.perf_counter()
        with pytest.raises(CodecError, match="share one hash"):
            decode(node)
        assert time.perf_counter() - started < 1.0


def test_a_few_colliding_elements_still_cross():
    value = {k * P + 1 for k in range(8)}
    assert decode(encode(value)) == value


def test_large_honest_sets_cross():
    value = set(range(100_000))
    assert decode(encode(value)) == value


def test_decoding_is_bounded_in_size():
    with pytest.raises(CodecError, match="more than 10 parts"):
        decode(encode(list(range(20))), max_nodes=10)
    with pytest.raises(CodecError, match="hex digits"):
        decode(["I", "f" * (MAX_INT_HEX_DIGITS + 1)])


def test_decoding_stops_at_the_deadline():
    import time

    with pytest.raises(DecodeTimeout):
        decode(encode(list(range(100_000))), deadline=time.monotonic() - 1)
