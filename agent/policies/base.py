"""What every policy is, and the nodes and helpers all of them share.

A policy owns its nodes, routers and prompts. The graph is always
`START -> prepare -> (the policy's nodes) -> finish -> END`: the policy's `prepare` node
chooses what the run needs once (feedback tests, inputs), `build` adds its own nodes and
edges and returns the first of them, and every path of its ends in `finish`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar, Protocol

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

import prompts
from agent.context import RunContext
from agent.extract import parse_asserts
from agent.state import AgentState, Candidate, Usage
from agent.trace_events import CandidatesJudged, FeedbackTests, JudgedCandidate, Stop, StopReason
from tools.visible_tests import visible_tests_of

COMMON_OPTIONS = frozenset({"policy", "family", "max_tokens", "timeout"})
"""Solver options every policy reads: the model's prompts and reply length, and the
seconds per test that the bench's hidden judging uses."""


class Policy(Protocol):
    name: ClassVar[str]
    reads: ClassVar[frozenset[str]]  # the SolverConfig fields it reads, besides COMMON_OPTIONS
    nodes_per_round: ClassVar[int]  # graph steps per round, for LangGraph's recursion limit
    shares_first_round: ClassVar[bool]  # the bench may draw round 0 of several samples in one request

    async def prepare(self, state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]: ...

    def build(self, graph: StateGraph) -> str:
        """Adds the policy's nodes and edges; returns the node that follows `prepare`."""
        ...


def visible_tests(ctx: RunContext) -> list[str]:
    """The problem's visible tests: given with it, or read from the prompt's examples."""
    return visible_tests_of(ctx.problem.prompt, ctx.problem.entry_point, ctx.problem.visible_tests)


async def feedback_tests(ctx: RunContext, visible: list[str]) -> tuple[list[str], Usage]:
    """The tests a repairing policy judges its candidates with, by `--feedback`: the
    examples, the model's own asserts (`self`), the oracle's check (`hidden`), or none."""
    mode, problem = ctx.config.feedback, ctx.problem
    if mode == "visible":
        return visible, Usage()
    if mode == "hidden":
        return (["check"] if ctx.oracle is not None else []), Usage()
    if mode == "self":
        message = {"role": "user", "content": prompts.render(ctx.family, "self_tests", prompt=problem.prompt,
                                                             entry_point=problem.entry_point)}
        reply, usage = await ctx.ask([ctx.system(), message], "prepare", 0, temperature=0.0)
        return parse_asserts(reply.choices[0].text, problem.entry_point), usage
    return [], Usage()


async def prepare_feedback(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The `prepare` node of the policies that repair against feedback tests."""
    ctx = runtime.context
    visible = visible_tests(ctx)
    tests, usage = await feedback_tests(ctx, visible)
    ctx.tracer.emit(FeedbackTests(node="prepare", round=0, feedback=ctx.config.feedback, tests=tests))
    return {"round": 0, "feedback_tests": tests, "visible_tests": visible, "usage": usage}


async def finish(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    best = state.get("best")
    reason = state.get("stop_reason") or (StopReason.TESTS_PASS if best is not None and best.all_pass else
                                          StopReason.SUBMITTED if state.get("submitted") else None)
    runtime.context.tracer.emit(Stop(node="finish", round=state.get("round", 0), reason=reason))
    return {"stop_reason": reason}


def shown_answer(ctx: RunContext, raw: str, completion: str) -> str:
    """The assistant turn a repair request shows: the model's reply, or the program."""
    return raw if raw.strip() else f"```python\n{ctx.problem.prompt}{completion}```"


async def judge_candidates(ctx: RunContext, candidates: list[Candidate], tests: list[str], round_: int,
                           node: str) -> tuple[list[Candidate], int]:
    """The candidates judged on `tests` (traced), and the index of the one that passes most
    (the first of those)."""
    started = time.monotonic()
    verdicts = await asyncio.gather(*(ctx.judge(c.completion, tests, round_, node=node) for c in candidates))
    judged = [c.judged(v) for c, v in zip(candidates, verdicts)]
    chosen = max(range(len(judged)), key=lambda i: (judged[i].passed, -i))
    ctx.tracer.emit(CandidatesJudged(node=node, round=round_, best=chosen, candidates=[
        JudgedCandidate(completion=c.completion, passed=c.passed, total=c.total, error=c.error_kind)
        for c in judged]), time.monotonic() - started)
    return judged, chosen
