"""Starting the model's answer for it: the reply continues a code block that already
holds the prompt's code (or `assert `), so the model writes only what is new, and stops
where the block closes. A 0.5B model otherwise restates the signature and docstring in
every candidate (about three quarters of its tokens on HumanEval/0–39) and often explains
its code after the block.

Uses vLLM's `continue_final_message` (the chat template is rendered without closing the
last assistant message); servers without it need `--no-prefill`.
"""

from __future__ import annotations

import ast

FENCE = "```python\n"
STOP = ["\n```"]
TESTS_PREFIX = FENCE + "assert "  # the test proposal's start
SERVER_OPTIONS = {"continue_final_message": True, "add_generation_prompt": False}


def answer_prefix(prompt: str, entry_point: str) -> str | None:
    """The start of an answer for a prompt that ends in the entry point's signature and
    docstring (the model writes the body); None for any other prompt (prose, a module
    docstring, a body already begun), which the model answers whole."""
    try:
        module = ast.parse(prompt)
    except (SyntaxError, ValueError):
        return None
    last = module.body[-1] if module.body else None
    if not isinstance(last, (ast.FunctionDef, ast.AsyncFunctionDef)) or last.name != entry_point:
        return None
    if len(last.body) != 1 or ast.get_docstring(last) is None or "```" in prompt:
        return None
    return FENCE + prompt.rstrip() + "\n"
