"""The agent's tools. Each runs the candidate in the sandbox; verdicts come from the
trusted side (see sandbox/judge.py)."""

from __future__ import annotations

from sandbox.sandbox import Sandbox
from sandbox.verdict import Job, TestCase, Verdict

_RUNNER = "__repair_agent_run__"

TOOL_SCHEMAS = [
    {"type": "function", "function": {
        "name": "run_tests",
        "description": "Run the tests of the task against your complete function; returns which pass and why others fail.",
        "parameters": {"type": "object", "properties": {"code": {
            "type": "string", "description": "the complete Python function, with its imports"}}, "required": ["code"]},
    }},
    {"type": "function", "function": {
        "name": "run_python",
        "description": "Run a Python snippet and return what it prints (or the error).",
        "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    }},
    {"type": "function", "function": {
        "name": "submit",
        "description": "Submit your final complete function.",
        "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    }},
]


def checks_job(prompt: str, entry_point: str, completion: str, tests: list[str], prelude: str,
              timeout: float = 3.0, setup: str = "") -> Job:
    """Each assert is its own test, so the feedback says which pass and which fail."""
    return Job(
        program=prompt + completion, entry_point=entry_point, trusted_prelude=prelude, setup=setup, timeout=timeout,
        tests=[TestCase(name=f"test {i + 1}", source=test) for i, test in enumerate(tests)],
    )


def run_tests(sandbox: Sandbox, prompt: str, entry_point: str, completion: str, tests: list[str], prelude: str,
              timeout: float = 3.0) -> Verdict:
    return sandbox.run(checks_job(prompt, entry_point, completion, tests, prelude, timeout))


def run_python(sandbox: Sandbox, code: str, timeout: float = 5.0) -> Verdict:
    """Runs `code` as a program; the verdict's output holds what it printed, a load
    failure its exception and traceback."""
    program = f"{code.rstrip()}\n\n\ndef {_RUNNER}():\n    return None\n"
    return sandbox.run(Job(program=program, entry_point=_RUNNER, timeout=timeout,
                           tests=[TestCase(name="run", source=f"{_RUNNER}()")]))
