"""The docstring example parser on the formats HumanEval uses."""

import pytest

from tools.visible_tests import extract_visible_tests


def doc(signature: str, body: str) -> str:
    return f'def {signature}:\n    """\n' + "".join(f"    {line}\n" for line in body.splitlines()) + '    """\n'


@pytest.mark.parametrize("body, expected", [
    (">>> f([1, 2])\n3", ["assert f([1, 2]) == 3"]),
    (">>> f([1, 2]) == 3\nTrue", ["assert f([1, 2]) == 3"]),
    (">>> round(f([1, 2]), 2)\n0.5", ["assert abs(round(f([1, 2]), 2) - 0.5) < 1e-6"]),
    ("f([1, 2]) => 3\nf([]) ==> 0", ["assert f([1, 2]) == 3", "assert f([]) == 0"]),
    ("f([1, 2]) ➞ True\nf([3]) -> false", ["assert f([1, 2]) == True", "assert f([3]) == False"]),
    ("f([1, 2]) should return 3", ["assert f([1, 2]) == 3"]),
    ("f([1, 2]) returns 'ab'", ["assert f([1, 2]) == 'ab'"]),
    ("f([1, 2])   # returns \"db1db\"", ['assert f([1, 2]) == "db1db"']),
    ("f([5], 19) -> 19 - 5 = 14", ["assert f([5], 19) == 14"]),
    ("For x = [1, 2] the output should be 3.", ["assert f([1, 2]) == 3"]),
    ("Example:\n    Input: [4, 2]\n    Output: [2, 1]", ["assert f([4, 2]) == [2, 1]"]),
    ("Returns f(x) for every x.", []),
    ("f(a) => False", []),  # not a literal argument: not guessed
])
def test_formats(body, expected):
    assert extract_visible_tests(doc("f(x)", body), "f") == expected


def test_keyword_inputs_follow_the_signature():
    body = "Example:\n    Input: arr = [1, 2, 3], k = 2\n    Output: 3"
    assert extract_visible_tests(doc("f(arr, k)", body), "f") == ["assert f([1, 2, 3], 2) == 3"]


def test_definitions_beside_examples_keep_the_examples():
    body = "f(1) = 3\nf(2) = 2\nExamples:\nf(3) = [1, 3, 2, 8]"
    assert extract_visible_tests(doc("f(n)", body), "f") == ["assert f(3) == [1, 3, 2, 8]"]
