"""compile() and ast.parse() behind one lock: CPython 3.11 can fail with
"AST constructor recursion depth mismatch" when threads compile at once (gh-106905)."""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def compile_code(source: str, filename: str, mode: str = "exec"):
    with _LOCK:
        return compile(source, filename, mode)


def parse(source: str) -> ast.Module:
    with _LOCK:
        return ast.parse(source)


def compile_node(node: ast.AST, filename: str, mode: str):
    with _LOCK:
        return compile(node, filename, mode)
