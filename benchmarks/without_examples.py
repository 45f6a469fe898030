"""A dataset's variant with every docstring example removed: it stands in for benchmarks
whose prompts show none (most problems in the wild). Only the entry point's docstring
changes; the hidden tests stay. Removed: doctest lines and their output, lines the
example reader reads an example from, lines that call the function on literal arguments,
example headers ("Example:", "For example:") and `Input:` / `Output:` lines. Then the
reader must find nothing in any prompt (`agent inspect` shows the same).

    .venv/bin/python benchmarks/without_examples.py [--dataset humaneval|FILE.jsonl]
        [--out results/datasets/humaneval_without_examples.jsonl.gz]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
from pathlib import Path

from eval.bench import dataset_path
from eval.datasets import read_dataset
from tools.visible_tests import _balanced_call, _call_is_literal, extract_visible_tests, function_of

HEADER = re.compile(r"(?i)^\s*(?:examples?(?:\s+\d+)?|for\s+examples?|e\.g\.|usage|sample\s+(?:input|output))\s*[:.]?\s*$")
IO_LINE = re.compile(r"(?i)^\s*(?:input|output)\s*:|^\s*for\s+.+\s+the\s+output\s+should\s+be\s")


def strip_examples(prompt: str, entry_point: str) -> str:
    function = function_of(prompt, entry_point)
    if function is None or not (function.body and isinstance(function.body[0], ast.Expr)):
        return prompt
    docstring = function.body[0]
    lines = prompt.splitlines(keepends=True)
    first, last = docstring.lineno - 1, docstring.end_lineno - 1  # the docstring's own lines
    keep = [True] * len(lines)
    index = first
    while index <= last:
        text = lines[index]
        if ">>>" in text:
            keep[index] = False
            index += 1
            while index <= last and lines[index].strip() and ">>>" not in lines[index] \
                    and '"""' not in lines[index] and "'''" not in lines[index]:
                keep[index] = False  # the doctest's output
                index += 1
            continue
        calls = re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", text)
        literal = any((parts := _balanced_call(text[m.start():], entry_point)) and
                      _call_is_literal(parts[0], entry_point) for m in calls)
        if index != first and index != last and (literal or HEADER.match(text) or IO_LINE.match(text)):
            keep[index] = False
        index += 1
    return "".join(line for line, kept in zip(lines, keep) if kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="humaneval")
    parser.add_argument("--out", type=Path, default=Path("results/datasets/humaneval_without_examples.jsonl.gz"))
    args = parser.parse_args()
    records = []
    for problem in read_dataset(dataset_path(args.dataset)).problems:
        stripped = strip_examples(problem.prompt, problem.entry_point)
        left = extract_visible_tests(stripped, problem.entry_point)
        if left:
            raise SystemExit(f"{problem.task_id}: examples left after stripping: {left}")
        record = problem.model_dump(exclude_none=True)
        record.update(prompt=stripped)
        record.pop("visible_tests", None)
        records.append(record)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    args.out.write_bytes(gzip.compress(data, mtime=0))  # mtime 0: the same bytes every time
    changed = sum(r["prompt"] != p.prompt for r, p in zip(records, read_dataset(dataset_path(args.dataset)).problems))
    print(f"{len(records)} problems, {changed} prompts changed, no example left: {args.out}")


if __name__ == "__main__":
    main()
