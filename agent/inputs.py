"""Inputs to judge candidates with, and never an expected output the model claims as truth.

Three sources, in this order: the arguments of the docstring's examples; type-aware
mutations of them (neighbours of numbers, shorter, longer, empty and reordered sequences,
edited strings), deterministic for a problem; and arguments the model proposes (its
claimed outputs become agreement votes, never a verdict). Where the prompt shows no
example, the signature's annotations give plain values to start from. Arguments that do
not fit the signature are dropped here; inputs on which every candidate fails are
dropped by the clustering (`agent.consensus`).
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import random
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.visible_tests import function_of

InputSource = Literal["example", "mutation", "model", "signature"]
MAX_ARGUMENTS_TEXT = 2000  # characters of one input's arguments: bigger inputs slow every candidate's job


class TestInput(BaseModel):
    """One call to run every candidate on."""

    __test__ = False  # not a pytest class

    source: InputSource
    test: str = Field(description="what runs on the trusted side: a call, or the example's or model's assert")
    call: str = Field(description="the call, e.g. f([1, 2], 3)")
    claimed: str | None = Field(None, description="model tests: the value the model says the call returns")


class Parameter(BaseModel):
    name: str
    annotation: str | None = None
    required: bool = True


def signature_of(prompt: str, entry_point: str) -> list[Parameter] | None:
    function = function_of(prompt, entry_point)
    if function is None:
        return None
    args = function.args.args
    first_default = len(args) - len(function.args.defaults)
    return [Parameter(name=a.arg, annotation=ast.unparse(a.annotation) if a.annotation else None,
                      required=i < first_default) for i, a in enumerate(args)]


# ------------------------------------------------------------------ calls in asserts


def literal_calls(test: str, entry_point: str) -> list[tuple[tuple, str]]:
    """(arguments, the call's source) of each call of `entry_point` in `test` whose
    arguments are all literals and positional."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point
                and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)):
            try:
                values = tuple(ast.literal_eval(a) for a in node.args)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            found.append((values, ast.unparse(node)))
    return found


def claimed_value(test: str, entry_point: str) -> str | None:
    """The literal an `assert f(...) == literal` claims, as source."""
    try:
        node = ast.parse(test).body[0]
    except (SyntaxError, IndexError):
        return None
    if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)):
        return None
    for side, other in ((node.test.left, node.test.comparators[0]), (node.test.comparators[0], node.test.left)):
        if isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == entry_point:
            try:
                ast.literal_eval(other)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None
            return ast.unparse(other)
    return None


# ------------------------------------------------------------------ fitting the signature


def fits(values: tuple, parameters: list[Parameter] | None) -> bool:
    """Whether positional `values` fit the signature: their number, and each annotation
    that can be read (an unknown annotation accepts anything)."""
    if parameters is None:
        return True
    if not sum(p.required for p in parameters) <= len(values) <= len(parameters):
        return False
    for value, parameter in zip(values, parameters):
        if parameter.annotation is None:
            continue
        try:
            annotation = ast.parse(parameter.annotation, mode="eval").body
        except SyntaxError:
            continue
        if not matches(value, annotation):
            return False
    return True


_PLAIN = {"int": int, "str": str, "bool": bool, "bytes": bytes, "list": list, "List": list, "tuple": tuple,
          "Tuple": tuple, "dict": dict, "Dict": dict, "set": set, "Set": set, "frozenset": frozenset}


def matches(value: Any, annotation: ast.expr) -> bool:
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return value is None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):  # a string annotation
        try:
            return matches(value, ast.parse(annotation.value, mode="eval").body)
        except SyntaxError:
            return True
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):  # X | Y
        return matches(value, annotation.left) or matches(value, annotation.right)
    if isinstance(annotation, ast.Attribute):  # typing.List and the like
        return matches(value, ast.Name(id=annotation.attr))
    if isinstance(annotation, ast.Name):
        if annotation.id == "float":
            return type(value) in (int, float)
        if annotation.id == "int":
            return type(value) is int
        expected = _PLAIN.get(annotation.id)
        return expected is None or type(value) is expected
    if isinstance(annotation, ast.Subscript):
        head = annotation.value.attr if isinstance(annotation.value, ast.Attribute) else getattr(
            annotation.value, "id", None)
        inner = annotation.slice
        items = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if head == "Optional":
            return value is None or matches(value, items[0])
        if head == "Union":
            return any(matches(value, item) for item in items)
        container = _PLAIN.get(head or "")
        if container is None:
            return True
        if type(value) is not container:
            return False
        if container in (list, set, frozenset):
            return all(matches(item, items[0]) for item in value)
        if container is tuple:
            if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
                return all(matches(item, items[0]) for item in value)
            return len(items) == len(value) and all(matches(v, a) for v, a in zip(value, items))
        if container is dict and len(items) == 2:
            return all(matches(k, items[0]) and matches(v, items[1]) for k, v in value.items())
    return True


# ------------------------------------------------------------------ mutations


def variants(value: Any, rng: random.Random) -> list[Any]:
    """Values near `value`, of its own type: the edges a wrong program trips on."""
    kind = type(value)
    if kind is bool:
        return [not value]
    if kind is int:
        out = [value + 1, value - 1, 0, -value, 1]
        if abs(value) < 10**6:
            out.append(value * 2 + 1)
        return out
    if kind is float:
        return [value + 0.5, -value, 0.0, round(value * 2.5, 3)]
    if kind is str:
        out = ["", value[:-1], value + value[-1:], value[::-1], value.swapcase(), value[1:], value + " " + value]
        if value:
            position = rng.randrange(len(value))
            out.append(value[:position] + rng.choice(value) + value[position + 1:])
        return out
    if kind in (list, tuple):
        items = list(value)
        out = [[], items[:1], items[:-1], items[::-1], items + items[-1:], items + items]
        try:
            out.append(sorted(items))
        except TypeError:
            pass
        if items:
            position = rng.randrange(len(items))
            for changed in variants(items[position], rng)[:2]:
                out.append(items[:position] + [changed] + items[position + 1:])
        return [kind(v) for v in out]
    if kind is dict:
        keys = list(value)
        return [{}, {k: value[k] for k in keys[1:]}, {k: value[k] for k in keys[:-1]}] if keys else []
    return []


def mutations(examples: list[tuple], seed: str, limit: int) -> list[tuple]:
    """Up to `limit` argument tuples, each one example with one argument changed; the
    same problem always gets the same ones."""
    rng = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    per_kind: list[list[tuple]] = []
    for values in examples:
        for position, value in enumerate(values):
            for index, changed in enumerate(variants(value, rng)):
                while len(per_kind) <= index:
                    per_kind.append([])
                per_kind[index].append(values[:position] + (changed,) + values[position + 1:])
    # one of each kind of change before a second of any kind: the budget buys variety
    ordered = [v for group in itertools.zip_longest(*[rng.sample(g, len(g)) for g in per_kind]) for v in group
               if v is not None]
    return _distinct(ordered, set(map(repr, examples)))[:limit]


_PLAIN_VALUES: dict[str, list[Any]] = {
    "int": [0, 1, 2, 3, 7, 10, -4], "float": [0.0, 1.0, 2.5, -3.5, 10.0], "str": ["", "a", "ab", "hello", "Hello World"],
    "bool": [True, False], "list": [[], [1], [1, 2, 3], [3, 1, 2], [-1, 0, 5, 5]],
}


def signature_values(parameters: list[Parameter], limit: int) -> list[tuple]:
    """Plain argument tuples built from the annotations alone, for prompts without examples."""
    pools = []
    for parameter in parameters:
        if not parameter.required:
            continue
        annotation = (parameter.annotation or "").replace("typing.", "")
        head = annotation.split("[")[0].strip()
        if head in ("List", "list", "Tuple", "tuple"):
            inner = annotation[len(head) + 1:-1].split(",")[0].strip() if "[" in annotation else "int"
            elements = _PLAIN_VALUES.get(inner, _PLAIN_VALUES["int"])
            pools.append([[], elements[1:2], elements[1:4], elements[::-1][:4], elements])
            if head.lower() == "tuple":
                pools[-1] = [tuple(v) for v in pools[-1]]
        else:
            pools.append(_PLAIN_VALUES.get(head, _PLAIN_VALUES["int"]))
    if not pools:
        return [()]
    count = max(len(p) for p in pools)
    rows = [tuple(pool[(i + j) % len(pool)] for j, pool in enumerate(pools)) for i in range(count)]
    return _distinct(rows, set())[:limit]


def _distinct(rows: list[tuple], seen: set[str]) -> list[tuple]:
    out = []
    for row in rows:
        text = repr(row)
        if text not in seen and len(text) <= MAX_ARGUMENTS_TEXT:
            seen.add(text)
            out.append(row)
    return out


def call_source(entry_point: str, values: tuple) -> str:
    return f"{entry_point}({', '.join(repr(v) for v in values)})"


# ------------------------------------------------------------------ gathering


def gather_inputs(prompt: str, entry_point: str, examples: list[str], model_tests: list[str],
                  limit: int) -> list[TestInput]:
    """The inputs for one problem: its examples' asserts as they are, up to `limit`
    mutations (or signature values where no example has literal arguments), and the
    model's asserts that fit the signature (their claims are votes, not truths)."""
    parameters = signature_of(prompt, entry_point)
    inputs = [TestInput(source="example", test=t, call=calls[0][1]) for t in examples
              if (calls := literal_calls(t, entry_point))]
    example_values = [values for t in examples for values, _ in literal_calls(t, entry_point)
                      if fits(values, parameters)]
    seen = {repr(v) for v in example_values}
    if example_values:
        made, source = mutations(example_values, prompt, limit), "mutation"
    else:
        made, source = (signature_values(parameters, limit) if parameters else []), "signature"
    for values in made:
        if fits(values, parameters):
            seen.add(repr(values))
            call = call_source(entry_point, values)
            inputs.append(TestInput(source=source, test=call, call=call))
    for test in model_tests:
        calls = literal_calls(test, entry_point)
        if not calls or not all(fits(values, parameters) for values, _ in calls):
            continue
        claimed = claimed_value(test, entry_point)
        if claimed is not None:
            inputs.append(TestInput(source="model", test=test, call=calls[0][1], claimed=claimed))
        elif repr(calls[0][0]) not in seen:
            seen.add(repr(calls[0][0]))
            inputs.append(TestInput(source="model", test=calls[0][1], call=calls[0][1]))
    return inputs
