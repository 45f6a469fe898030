"""The trace's schema: one pydantic model per kind of event, in a union discriminated by
`kind`, and the stop reasons. A trace is JSON lines of these events (`trace.jsonl`);
`read_trace` reads one back, typed, including traces written before the schema had a
version (version 0: free-form dicts, converted on reading).

Every event has `v` (the schema version), `id` (its number within its run, task and
sample, from 1), `parent` (the event that led to it: a model call's parent is the
feedback, correction or tool observation it answers; a sandbox job's or a verdict's is
the model call whose reply it judges; a stop's is the event before it), `round`, `node`,
`started`, `ended` (UTC, ISO 8601) and `duration` (seconds).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

TRACE_SCHEMA = 1


class StopReason(StrEnum):
    TESTS_PASS = "tests pass"
    SUBMITTED = "submitted"
    NO_FEEDBACK_TESTS = "no feedback tests to repair against"
    NO_PROGRESS = "no progress, even after sampling afresh"
    TOKEN_BUDGET = "token budget spent"
    TIME_BUDGET = "time budget spent"
    ROUNDS_SPENT = "rounds spent"
    CONSENSUS = "consensus"
    NO_INPUTS = "no inputs to compare candidates on"
    BATCH_WOULD_OVERRUN = "token budget: another batch would overrun it"


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    caused_by: ClassVar[tuple[str, ...] | None] = ()  # kinds that can be its parent; None: the event before

    v: int = TRACE_SCHEMA
    id: int = 0
    parent: int | None = None
    run: str = ""
    task: str = ""
    sample: int = 0
    round: int
    node: str
    started: str = ""
    ended: str = ""
    duration: float = 0.0


class Tokens(BaseModel):
    prompt: int = 0
    completion: int = 0


class ModelCall(Event):
    """One request to the model and every reply it returned."""

    caused_by: ClassVar = ("feedback", "retry", "tool_use")
    kind: Literal["model_call"] = "model_call"
    messages: list[dict[str, Any]]
    replies: list[str]
    tool_calls: list[list[dict[str, Any]]] = Field(default_factory=list)
    tokens: Tokens = Field(default_factory=Tokens)
    options: dict[str, Any] = Field(default_factory=dict)
    shared: dict[str, Any] | None = Field(None, description="round 0 drawn for several samples in one request")


class GivenCode(Event):
    kind: Literal["given_code"] = "given_code"
    code: str


class FeedbackTests(Event):
    """The tests a repairing policy judges with, chosen once by `prepare`."""

    caused_by: ClassVar = ("model_call",)
    kind: Literal["feedback_tests"] = "feedback_tests"
    feedback: str
    tests: list[str]


class InputsChosen(Event):
    """search: the inputs every candidate runs on, and the model's proposed asserts."""

    caused_by: ClassVar = ("model_call",)
    kind: Literal["inputs"] = "inputs"
    proposed: list[str]
    inputs: list[dict[str, Any]]


class SandboxJob(Event):
    """One candidate judged on the feedback tests."""

    caused_by: ClassVar = ("model_call", "given_code")
    kind: Literal["sandbox_job"] = "sandbox_job"
    feedback: str
    oracle: bool
    passed: int
    total: int
    verdict: str
    error_kind: str


class JudgedCandidate(BaseModel):
    completion: str
    passed: int
    total: int
    error: str


class CandidatesJudged(Event):
    """repair, best-of-n: the round's candidates, and which one the round chose."""

    caused_by: ClassVar = ("model_call", "given_code")
    kind: Literal["candidates_judged"] = "candidates_judged"
    best: int
    candidates: list[JudgedCandidate]


class SelectionMade(Event):
    """search: the clusters over every candidate so far and the answer they chose."""

    caused_by: ClassVar = ("model_call",)
    kind: Literal["selection"] = "selection"
    chosen: int
    reason: str
    dominant: bool = False
    new: int = 0
    kept_inputs: list[int] = Field(default_factory=list)
    counterexample: int | None = None
    clusters: list[dict[str, Any]] = Field(default_factory=list)
    candidates: list[dict[str, Any]] = Field(default_factory=list)


class Feedback(Event):
    """What the model is told about its answer before it repairs it."""

    caused_by: ClassVar = ("candidates_judged", "selection", "sandbox_job")
    kind: Literal["feedback"] = "feedback"
    message: str


class NoProgress(Event):
    caused_by: ClassVar = ("candidates_judged",)
    kind: Literal["no_progress"] = "no_progress"
    resample: bool


class Retry(Event):
    """react: a malformed call, corrected once within its step."""

    caused_by: ClassVar = ("model_call",)
    kind: Literal["retry"] = "retry"
    error: str


class ToolUse(Event):
    """react: the tool the model called, and what it saw."""

    caused_by: ClassVar = ("model_call", "given_code")
    kind: Literal["tool_use"] = "tool_use"
    tool: str | None
    code: str | None = None
    observation: str | None = None
    error: str | None = None
    implicit: bool = False


class Stop(Event):
    caused_by: ClassVar = None
    kind: Literal["stop"] = "stop"
    reason: StopReason | None


class HiddenVerdict(Event):
    """The bench's or `agent solve`'s verdict on the hidden tests, after the agent returned."""

    caused_by: ClassVar = None
    kind: Literal["hidden_verdict"] = "hidden_verdict"
    verdict: str


TraceEvent = Annotated[Union[ModelCall, GivenCode, FeedbackTests, InputsChosen, SandboxJob, CandidatesJudged,
                             SelectionMade, Feedback, NoProgress, Retry, ToolUse, Stop, HiddenVerdict],
                       Field(discriminator="kind")]
EVENT = TypeAdapter(TraceEvent)


class TraceError(ValueError):
    """A trace file that cannot be read; the message is one sentence."""


def parse_event(raw: dict[str, Any]) -> TraceEvent:
    """One event from its JSON object, converting a version-0 one."""
    if "v" not in raw:
        raw = _from_version_0(raw)
    return EVENT.validate_python(raw)


def read_trace(path: Path) -> list[TraceEvent]:
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(json.loads(line)))
        except ValueError as exc:
            reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else (
                f"not a trace event ({_first_error(exc)})")
            raise TraceError(f"line {number} of {path} is {reason}") from None
    return events


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


_V0_KINDS = {("llm", None): "model_call", ("given", None): "given_code", ("inputs", None): "inputs",
             ("sandbox", None): "sandbox_job", ("retry", None): "retry", ("no_progress", None): "no_progress",
             ("feedback", None): "feedback", ("stop", None): "stop", ("tool", "prepare"): "feedback_tests",
             ("tool", None): "tool_use", ("verdict", "evaluate"): "candidates_judged",
             ("verdict", "observe"): "selection", ("verdict", "finish"): "hidden_verdict"}


def _from_version_0(raw: dict[str, Any]) -> dict[str, Any]:
    """Traces written before the schema: `time` and `kind` names of their own, no ids."""
    old, node = raw.get("kind"), raw.get("node")
    kind = _V0_KINDS.get((old, node)) or _V0_KINDS.get((old, None))
    if kind is None:
        raise ValueError(f"unknown version-0 kind {old!r}")
    out = {k: v for k, v in raw.items() if k not in ("time", "kind", "kind_of_error", "hidden")}
    out.update(v=0, kind=kind, ended=raw.get("time", ""))
    if kind == "sandbox_job":
        out["error_kind"] = raw.get("kind_of_error", "")
    if kind == "stop" and out.get("reason") not in {r.value for r in StopReason}:
        out["reason"] = None
    return out
