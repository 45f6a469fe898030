"""`best-of-n`: draw a batch of fresh samples, keep the one that passes the most of the
prompt's examples; stop when one passes them all, else draw again until the rounds or
the budget are spent. The model is never shown a verdict. (ARCHITECTURE.md's example of
adding a policy.)"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from agent.context import RunContext, unrecorded
from agent.policies.base import judge_candidates, visible_tests
from agent.state import AgentState, Usage
from agent.trace_events import FeedbackTests, StopReason


async def prepare(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    examples = visible_tests(ctx)
    ctx.tracer.emit(FeedbackTests(node="prepare", round=0, feedback="visible", tests=examples))
    return {"round": 0, "feedback_tests": examples, "visible_tests": examples}


async def draw(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx, round_, started = runtime.context, state.get("round", 0), time.monotonic()
    examples = state.get("feedback_tests") or []
    reply, usage = await ctx.ask([ctx.system(), ctx.task()], "draw", round_, n=ctx.config.candidates,
                                 temperature=ctx.sampling_temperature(True))
    judged, chosen = await judge_candidates(ctx, ctx.candidates_from(reply), examples, round_, "draw")
    previous = state.get("best")
    kept = previous is not None and previous.passed >= judged[chosen].passed
    best = previous if kept and previous is not None else judged[chosen]
    record = ctx.record(round_, "sample", best, kept, unrecorded(state) + usage, time.monotonic() - started,
                        len(judged), best.all_pass if examples else None)
    reason = StopReason.NO_FEEDBACK_TESTS if not examples else None if best.all_pass else ctx.over_budget(
        (state.get("usage") or Usage()) + usage, round_)
    return {"best": best, "usage": usage, "rounds": [record], "stop_reason": reason,
            **({} if reason or best.all_pass else {"round": round_ + 1})}


def route_after_draw(state: AgentState) -> str:
    best = state.get("best")
    return "finish" if state.get("stop_reason") or (best is not None and best.all_pass) else "draw"


class BestOfN:
    name: ClassVar[str] = "best-of-n"
    reads: ClassVar[frozenset[str]] = frozenset({"rounds", "candidates", "temperature", "search_temperature",
                                                 "token_budget", "time_budget"})
    nodes_per_round: ClassVar[int] = 1
    shares_first_round: ClassVar[bool] = False

    prepare = staticmethod(prepare)

    def build(self, graph: StateGraph) -> str:
        graph.add_node("draw", draw)
        graph.add_conditional_edges("draw", route_after_draw, {"draw": "draw", "finish": "finish"})
        return "draw"


POLICY = BestOfN()
