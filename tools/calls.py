"""The agent's tools. Each runs the candidate in the sandbox; verdicts come from the
trusted side (see sandbox/judge.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sandbox.sandbox import Sandbox
from sandbox.verdict import Job, TestCase, Verdict

_RUNNER = "__repair_agent_run__"

class TestedCode(BaseModel):
    code: str = Field(description="the complete Python function, with its imports")


class Snippet(BaseModel):
    code: str


TOOLS: dict[str, tuple[str, type[BaseModel]]] = {
    "run_tests": ("Run the tests of the task against your complete function; returns which pass and why others fail.",
                  TestedCode),
    "run_python": ("Run a Python snippet and return what it prints (or the error).", Snippet),
    "submit": ("Submit your final complete function.", Snippet),
}


def _without_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_titles(v) for k, v in schema.items() if k != "title"}
    return schema


def tool_schema(name: str) -> dict[str, Any]:
    """The OpenAI tool-calling schema of a tool, generated from its typed arguments."""
    description, arguments = TOOLS[name]
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": _without_titles(arguments.model_json_schema())}}


TOOL_SCHEMAS = [tool_schema(name) for name in TOOLS]


def checks_job(prompt: str, entry_point: str, completion: str, tests: list[str], prelude: str,
              timeout: float = 3.0, setup: str = "") -> Job:
    """Each assert is its own test, so the feedback says which pass and which fail."""
    return Job(
        program=prompt + completion, entry_point=entry_point, trusted_prelude=prelude, setup=setup, timeout=timeout,
        tests=[TestCase(name=f"test {i + 1}", source=test) for i, test in enumerate(tests)],
    )


def observation_job(prompt: str, entry_point: str, completion: str, tests: list[str], prelude: str,
                    timeout: float = 1.0, setup: str = "") -> Job:
    """Runs each of `tests` (asserts or plain calls) and records what the candidate's call
    returned or raised: one job per candidate for all of a problem's inputs. The inputs are
    the agent's own, no secret, so any executor may run it (hidden verdicts stay isolated)."""
    return Job(
        program=prompt + completion, entry_point=entry_point, trusted_prelude=prelude, setup=setup, timeout=timeout,
        tests=[TestCase(name=f"input {i + 1}", source=test) for i, test in enumerate(tests)], observe=True,
        secret=False,
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
