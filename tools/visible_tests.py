"""Visible tests: the examples a problem's docstring shows, as executable asserts.

HumanEval writes its examples in many ways: doctest (`>>> f(x)` then the value),
`f(x) => y`, `f(x) ==> y`, `f(x) == y`, `f(x) = y`, `f(x) ➞ y`, `f(x) -> y`,
`f(x) should return y`, `f(x) returns y`, `f(x)  # returns y`, `For x = ... the output
should be y`, `Input: ... Output: ...`. This pure function reads them all; each check
calls the function by its own name on literal arguments and compares with a literal.
"""

from __future__ import annotations

import ast
import re

_SEPARATORS = re.compile(
    r"^\s*(?:#\s*)?(?:==>|=>|==|=|➞|->|→|:)?\s*(?:it\s+)?(?:should\s+return|should\s+be|returns?|gives?|is)?\s*[:=]?\s*",
    re.I,
)
_WORD_LITERALS = {"true": "True", "false": "False", "none": "None", "null": "None"}


def function_of(prompt: str, entry_point: str) -> ast.FunctionDef | None:
    for source in (prompt, prompt.rstrip() + "\n    pass\n"):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == entry_point:
                return node
    return None


def _literal(text: str):
    """(value, source) of the longest literal prefix of `text`, or None."""
    text = text.strip().rstrip(".,;")
    word = _WORD_LITERALS.get(text.split(" ")[0].rstrip(".,;").lower()) if text else None
    if word:
        return ast.literal_eval(word), word
    for end in range(len(text), 0, -1):
        if end < len(text) and text[end] not in " ,.;#\t":
            continue
        piece = text[:end].strip().rstrip(",;")
        if piece.endswith(".") and not re.search(r"\d\.$", piece):
            piece = piece[:-1]
        try:
            value = ast.literal_eval(piece)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return value, piece
    return None


def _balanced_call(line: str, entry_point: str) -> tuple[str, str] | None:
    """(the call's text, what follows it) for the first call of `entry_point` in `line`."""
    match = re.search(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", line)
    if match is None:
        return None
    depth, quote, i = 0, None, match.end() - 1
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return line[match.start() : i + 1], line[i + 1 :]
        i += 1
    return None


_WRAPPERS = {"round", "sorted", "list", "tuple", "set", "abs", "len", "str", "int", "float", "sum", "min", "max"}


def _call_is_literal(call: str, entry_point: str, wrappers: bool = False) -> str | None:
    """The call normalized by ast, when every argument is a literal. With `wrappers`,
    a builtin around the call (as in `>>> round(f(x), 2)`) is kept."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return None
    target = node
    if wrappers:
        while (isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id in _WRAPPERS
               and target.args):
            for extra in target.args[1:]:
                if not isinstance(extra, ast.Constant):
                    return None
            target = target.args[0]
    if not (isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == entry_point):
        return None
    try:
        for arg in [*target.args, *(k.value for k in target.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return ast.unparse(node)


def _check(call: str, expected_source: str, value) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        return f"assert abs({call} - {expected_source}) < 1e-6"
    return f"assert {call} == {expected_source}"


def _expected_after(rest: str, following: list[str]):
    """The expected value written after a call, or on the next non-empty line."""
    rest = _SEPARATORS.sub("", rest, count=1)
    found = _literal(rest.rsplit(" = ", 1)[1]) if " = " in rest else None  # `f(x) -> 19 - 5 - 6 = 8`
    if found is None and rest.strip():
        found = _literal(rest)
    if found is None and not rest.strip():
        for line in following:
            if line.strip():
                if ">>>" in line:
                    break
                found = _literal(_SEPARATORS.sub("", line.strip(), count=1))
                break
    return found


def _keyword_call(entry_point: str, params: list[str], text: str) -> str | None:
    """`name = value, other = value` (in parameter order) or one bare value, as a call."""
    assigned = {}
    for match in re.finditer(r"\b(\w+)\s*=\s*", text):
        if match.group(1) in params:
            found = _literal(text[match.end() :].split(" the ")[0])
            if found is not None:
                assigned[match.group(1)] = found[1]
    if assigned:
        if set(assigned) != set(params[: len(assigned)]):
            return None
        return f"{entry_point}({', '.join(assigned[p] for p in params[: len(assigned)])})"
    found = _literal(text)
    return f"{entry_point}({found[1]})" if found is not None and len(params) == 1 else None


def extract_visible_tests(prompt: str, entry_point: str) -> list[str]:
    """Assert statements for every example the entry point's docstring shows."""
    function = function_of(prompt, entry_point)
    if function is None:
        return []
    doc = ast.get_docstring(function, clean=True) or ""
    params = [a.arg for a in function.args.args]
    lines = doc.splitlines()
    tests: list[tuple[str, object, int]] = []  # (check, expected value, example block it appeared in)
    pending_input: str | None = None
    block = 0

    def add(check: str, value) -> None:
        tests.append((check, value, block))

    for index, raw in enumerate(lines):
        line = raw.strip().lstrip("*-• ").strip()
        block += "example" in line.lower()
        following = lines[index + 1 : index + 4]
        if line.startswith(">>>"):
            expression = line[3:].split("#")[0].strip()
            call = _call_is_literal(expression, entry_point, wrappers=True)
            if call is not None:
                found = _expected_after("", following)
                if found is not None:
                    add(_check(call, found[1], found[0]), found[0])
                    continue
            line = line[3:].strip()
        elif not line.startswith(entry_point) and not re.match(r"(?i)^(for|input|output)\b", line):
            continue  # a call in the middle of prose (e.g. "returns f(x) for ...") is no example
        call_parts = _balanced_call(line, entry_point)
        if call_parts is not None:
            call = _call_is_literal(call_parts[0], entry_point)
            if call is None:
                continue
            rest = call_parts[1]
            compare = re.match(r"\s*(==|!=)\s*(.+)$", rest)
            if compare and following and _literal(following[0].strip()) is not None and \
                    _literal(following[0].strip())[0] in (True, False) and _literal(compare.group(2)) is not None:
                # doctest of a comparison: `>>> f(x) == [1, 2]` then `True`
                value, source = _literal(compare.group(2))
                add(_check(call, source, value), value)
                continue
            found = _expected_after(rest, following)
            if found is not None:
                add(_check(call, found[1], found[0]), found[0])
            continue
        sentence = re.match(r"(?i)^for\s+(.+?)\s*,?\s+the\s+output\s+should\s+be\s+(.+)$", line)
        if sentence:
            call = _keyword_call(entry_point, params, sentence.group(1))
            found = _literal(sentence.group(2))
            if call and found is not None and _call_is_literal(call, entry_point):
                add(_check(call, found[1], found[0]), found[0])
            continue
        if re.match(r"(?i)^input\s*:", line):
            pending_input = line.split(":", 1)[1].strip()
            continue
        if pending_input is not None and re.match(r"(?i)^output\s*:", line):
            call = _keyword_call(entry_point, params, pending_input)
            found = _literal(line.split(":", 1)[1])
            if call and found is not None and _call_is_literal(call, entry_point):
                add(_check(call, found[1], found[0]), found[0])
            pending_input = None
    if len({_kind(value) for _, value, _ in tests}) > 1:
        # Values of different kinds: the docstring also writes definitions like
        # `tri(1) = 3` beside its examples (`tri(3) = [1, 3, 2, 8]`); keep the last examples.
        last = max(b for _, _, b in tests)
        tests = [t for t in tests if t[2] == last]
    return list(dict.fromkeys(check for check, _, _ in tests))


def _kind(value) -> str:
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
