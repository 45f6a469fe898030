"""Visible tests: the examples a problem's docstring shows, as executable asserts.

People write examples in many ways: doctest (`>>> f(x)` then the value, on one line or
several), `f(x) => y`, `f(x) ==> y`, `f(x) == y`, `f(x) = y`, `f(x) ➞ y`, `f(x) -> y`,
`f(x) should return y`, `f(x) returns y`, `f(x)  # returns y`, `assert f(x) == y`, any
of these after "Example:", "e.g." or "For example," in prose, `For x = ... the output
should be y`, LeetCode's `Input: a = ..., b = ...` / `Output: ...`, and numpy's and
Google's "Examples" sections. This pure function reads them; each check calls the
function by its own name on literal arguments (keywords too) and compares with a
literal. It never guesses: an example whose call or value is not literal is left unread,
because an invented example would veto right answers.
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
    """The expected value written after a call, or on the next non-empty lines (a doctest's
    output may span several lines, up to a blank line or the next `>>>`)."""
    rest = _SEPARATORS.sub("", rest, count=1)
    # `f(x) -> 19 - 5 - 6 = 8`: an expression worked out, the value after its last ` = `
    found = _literal(rest.rsplit(" = ", 1)[1]) if " = " in rest else None
    if found is None and rest.strip():
        found = _literal(rest)
    if found is None and not rest.strip():
        output: list[str] = []
        for line in following:
            if not line.strip() or ">>>" in line:
                break
            output.append(line.strip())
        for count in range(1, len(output) + 1):  # the shortest run of lines that is one whole literal
            text = _SEPARATORS.sub("", " ".join(output[:count]), count=1).strip().rstrip(".,;")
            whole = _literal(text)
            if whole is not None and whole[1] == text:
                return whole
        if output:
            found = _literal(_SEPARATORS.sub("", output[0], count=1))
    return found


# What may stand before an example's call on its line: nothing, or words that announce
# an example ("Example:", "e.g.", "For example,", "assert"); after a first example, a
# conjunction joins the next one ("..., and f(y) should return z").
_ANNOUNCES = re.compile(r"(?i)(?:^|\b)(?:e\.g\.|i\.e\.|for\s+example|for\s+instance|examples?(?:\s+\d+)?|usage|where|assert|"
                        r"calling|so|thus)\s*[:,]?\s*$")
_JOINS = re.compile(r"(?i)^\s*(?:[,;]|\band\b|\bwhile\b|\bbut\b|\bwhereas\b)[\s,;]*(?:and\s+)?$")


def _example_calls(line: str, entry_point: str) -> list[int]:
    """Where the calls that start examples begin in `line`."""
    starts, previous_end = [], 0
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", line):
        before = line[previous_end:match.start()]
        first = not starts and (not before.strip() or re.fullmatch(r"(?i)\s*for\s*", before))  # "for f(x) == y"
        if first or _ANNOUNCES.search(before) or (starts and _JOINS.match(before)):
            starts.append(match.start())
            parts = _balanced_call(line[match.start():], entry_point)
            rest = parts[1] if parts else ""
            # the example runs to the next announced call; skip past its expected value
            previous_end = match.start() + (len(parts[0]) if parts else 0) + len(rest) - len(rest.lstrip())
            value = _literal(_SEPARATORS.sub("", rest, count=1).split(" and ")[0].split(",")[0]) if parts else None
            if value is not None:
                previous_end = line.index(value[1], previous_end) + len(value[1]) if value[1] in line[previous_end:] \
                    else previous_end
    return starts


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


def _call_example(text: str, following: list[str], entry_point: str) -> list[tuple[str, object]]:
    """The example that starts with a call of the entry point in `text`: its check and value."""
    call_parts = _balanced_call(text, entry_point)
    call = _call_is_literal(call_parts[0], entry_point) if call_parts else None
    if call_parts is None or call is None:
        return []
    rest = call_parts[1]
    compare = re.match(r"\s*(==|!=)\s*(.+)$", rest)
    if compare and following and _literal(following[0].strip()) is not None and \
            _literal(following[0].strip())[0] in (True, False) and _literal(compare.group(2)) is not None:
        # doctest of a comparison: `>>> f(x) == [1, 2]` then `True`
        value, source = _literal(compare.group(2))
        return [(_check(call, source, value), value)]
    found = _expected_after(rest, following)
    return [] if found is None else [(_check(call, found[1], found[0]), found[0])]


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
        following = lines[index + 1 : index + 40]
        if line.startswith(">>>"):
            expression = line[3:].split("#")[0].strip()
            call = _call_is_literal(expression, entry_point, wrappers=True)
            if call is not None:
                found = _expected_after("", following)
                if found is not None:
                    add(_check(call, found[1], found[0]), found[0])
                    continue
            line = line[3:].strip()
        starts = _example_calls(line, entry_point)
        if starts:
            for position, end in zip(starts, [*starts[1:], len(line)]):
                for check, value in _call_example(line[position:end], following, entry_point):
                    add(check, value)
            continue
        if not re.match(r"(?i)^(for|input|output)\b", line):
            continue  # a call in the middle of prose (e.g. "returns f(x) for ...") is no example
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
        # Values of different kinds: the docstring also writes definitions (`f(1) = 3`, a
        # recurrence's base case) beside its examples (`f(3) = [1, 3, 2, 8]`); keep the
        # last block the docstring calls examples.
        last = max(b for _, _, b in tests)
        tests = [t for t in tests if t[2] == last]
    return list(dict.fromkeys(check for check, _, _ in tests))


def _kind(value) -> str:
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def visible_tests_of(prompt: str, entry_point: str, given: list[str] | None) -> list[str]:
    """A problem's visible tests: those it was given with, else its docstring's examples.
    The agent's policies and `agent inspect` both read them here."""
    return given if given else extract_visible_tests(prompt, entry_point)
