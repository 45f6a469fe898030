"""What the model is told about a failing candidate: the call, the expected value,
what it got, the exception and traceback, the output; truncated sensibly."""

from __future__ import annotations

from sandbox.verdict import TestResult, Verdict

MAX_TESTS = 3
MAX_TRACEBACK = 1200
MAX_OUTPUT = 600


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 2] + "\n...\n" + text[-limit // 2 :]


def describe_failure(test: TestResult, source: str | None = None) -> str:
    lines = [f"- `{(source or test.statement or test.name).strip()}`"]
    if test.kind == "timeout":
        lines.append(f"  timed out{f' on {test.call}' if test.call else ''} (an infinite loop, or far too slow)")
    elif test.kind in ("syntax", "name") and test.exception:
        lines.append(f"  the code does not load: {test.exception}")
    else:
        if test.call:
            lines.append(f"  called {test.call}")
        if test.expected is not None:
            lines.append(f"  expected {test.expected}")
        if test.got is not None:
            lines.append(f"  got {test.got}")
        if test.exception:
            lines.append(f"  raised {test.exception}")
        elif test.kind not in ("assertion",) and test.message:
            lines.append(f"  {test.message}")
    if test.traceback:
        lines.append("  traceback:\n" + _clip(test.traceback, MAX_TRACEBACK))
    return "\n".join(lines)


def describe(verdict: Verdict, sources: list[str] | None = None) -> str:
    """The failing tests (at most MAX_TESTS of them), then the candidate's output."""
    failing = [(i, t) for i, t in enumerate(verdict.tests) if not t.passed]
    parts = [describe_failure(t, sources[i] if sources and i < len(sources) else None) for i, t in failing[:MAX_TESTS]]
    if len(failing) > MAX_TESTS:
        parts.append(f"... and {len(failing) - MAX_TESTS} more failing tests")
    parts.insert(0, f"{verdict.tests_passed} of {len(verdict.tests)} tests pass.")
    if verdict.output.strip():
        parts.append("Your code printed:\n" + _clip(verdict.output, MAX_OUTPUT))
    return "\n".join(parts)
