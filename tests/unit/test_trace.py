"""The typed trace: every event a model of its kind, numbered, linked to its parent,
versioned, written as it happens and read back the same; older traces still read."""

from __future__ import annotations

import asyncio
import json

import pytest

from agent.config import SolverConfig
from agent.solver import Solver
from agent.trace import Tracer
from agent.trace_events import (TRACE_SCHEMA, CandidatesJudged, Feedback, ModelCall, Stop, StopReason, TraceError,
                                parse_event, read_trace)
from eval.problems import Problem
from sandbox import SandboxConfig, open_sandbox
from tests.unit.test_controller import BAD, GOOD, PROMPT, TEST, FakeLLM, solve

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


def test_a_repair_run_traces_typed_events_linked_to_their_causes(sandbox):
    result, _, tracer = solve(sandbox, [[BAD], [GOOD]])
    events = tracer.events
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert all(e.v == TRACE_SCHEMA and e.task == "median" and e.started <= e.ended for e in events)
    kinds = [e.kind for e in events]
    assert kinds == ["feedback_tests", "model_call", "sandbox_job", "candidates_judged", "feedback", "model_call",
                     "sandbox_job", "candidates_judged", "stop", "hidden_verdict"]
    first_call, judged, told, second_call = events[1], events[3], events[4], events[5]
    assert isinstance(judged, CandidatesJudged) and judged.parent == first_call.id
    assert isinstance(told, Feedback) and told.parent == judged.id and "expected 2.5" in told.message
    assert isinstance(second_call, ModelCall) and second_call.parent == told.id
    assert second_call.messages[-1]["content"] == told.message
    stop = events[-2]
    assert isinstance(stop, Stop) and stop.reason is StopReason.TESTS_PASS and stop.parent == events[-3].id
    assert result.stop_reason == StopReason.TESTS_PASS


def test_the_trace_file_reads_back_as_the_same_events(sandbox, tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl", run="r", task="median")
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    asyncio.run(Solver(FakeLLM([[BAD], [GOOD]]), sandbox, SolverConfig(), "qwen2.5-coder").solve(problem, tracer))
    assert read_trace(tmp_path / "trace.jsonl") == tracer.events


def test_a_version_0_event_is_converted_on_reading():
    old = {"time": "2026-11-30T10:00:00.000Z", "run": "r", "task": "t", "sample": 0, "round": 1, "node": "act",
           "kind": "sandbox", "duration": 0.2, "feedback": "visible", "oracle": False, "passed": 1, "total": 2,
           "verdict": "failed", "kind_of_error": "assertion"}
    event = parse_event(old)
    assert event.kind == "sandbox_job" and event.v == 0 and event.error_kind == "assertion"
    assert event.ended == old["time"] and event.id == 0
    stop = parse_event({"round": 0, "node": "finish", "kind": "stop", "reason": "rounds spent"})
    assert stop.reason is StopReason.ROUNDS_SPENT


def test_a_line_that_is_no_event_is_one_sentence(tmp_path):
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps({"v": 1, "round": 0, "node": "x", "kind": "model_call"}) + "\n")
    with pytest.raises(TraceError, match=r"line 1 of .* is not a trace event \(model_call.messages: Field required\)"):
        read_trace(path)
    path.write_text("{not json\n")
    with pytest.raises(TraceError, match="line 1 of .* is not JSON"):
        read_trace(path)
    path.write_text(json.dumps({"v": 1, "round": 0, "node": "x", "kind": "stop", "reason": "felt like it"}) + "\n")
    with pytest.raises(TraceError):
        read_trace(path)  # a stop reason outside the enum
