"""The `repair` policy: generate N candidates (one request) -> evaluate them on the
feedback tests, the best so far goes on -> all pass: finish | budget left: feedback on the
best so far -> generate. The same code again means no progress: the next round samples
afresh; no progress after that ends the run."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

import prompts
from agent.context import RunContext, unrecorded
from agent.extract import normalized
from agent.feedback import describe
from agent.policies.base import judge_candidates, prepare_feedback, shown_answer
from agent.state import AgentState, Candidate, Draft, Usage, replaces
from agent.trace_events import Feedback, GivenCode, ModelCall, NoProgress, StopReason, Tokens


def route_after_evaluate(state: AgentState) -> str:
    if state.get("stop_reason"):
        return "finish"
    best = state.get("best")
    return "finish" if best is not None and best.all_pass else "feedback"


def route_after_feedback(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") else "generate"


async def generate(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    round_ = state.get("round", 0)
    started = time.monotonic()
    usage = Usage()
    if round_ == 0 and ctx.problem.code is not None:
        action, candidates = "given", [Candidate(completion="\n" + ctx.problem.code.rstrip() + "\n")]
        ctx.tracer.emit(GivenCode(node="generate", round=round_, code=ctx.problem.code))
    elif round_ == 0 and ctx.first is not None:
        action, candidates, usage = "generate", list(ctx.first.candidates), ctx.first.usage
        ctx.tracer.emit(ModelCall(node="generate", round=round_, messages=ctx.first.messages,
                                  replies=[c.raw for c in candidates], shared=ctx.first.shared,
                                  tokens=Tokens(prompt=usage.prompt_tokens, completion=usage.completion_tokens)),
                        ctx.first.seconds)
    else:
        fresh = round_ == 0 or state.get("resample", False)
        if fresh:
            action, messages = ("generate" if round_ == 0 else "resample"), [ctx.system(), ctx.task()]
        else:
            action, messages = ("review" if ctx.config.feedback == "none" else "repair"), state["messages"]
        n = ctx.config.candidates
        reply, usage = await ctx.ask(messages, "generate", round_, n=n,
                                     temperature=ctx.sampling_temperature(n > 1 or (fresh and round_ > 0)))
        candidates = ctx.candidates_from(reply)
    draft = Draft(round=round_, action=action, candidates=candidates, seconds=time.monotonic() - started)
    return {"draft": draft, "usage": usage, "resample": False}


async def evaluate(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    draft, round_, tests = state["draft"], state["round"], state.get("feedback_tests") or []
    started = time.monotonic()
    judged, chosen_index = await judge_candidates(ctx, draft.candidates, tests, round_, "evaluate")
    chosen, previous = judged[chosen_index], state.get("best")
    kept_previous = not replaces(previous, chosen)
    best = previous if kept_previous else chosen
    assert best is not None
    visible = await ctx.visible_verdict(best, state)
    update: dict[str, Any] = {"best": best, "draft": None, "tried": [chosen.completion],
                              "visible": {} if visible is None else {best.completion: visible}}
    update["rounds"] = [ctx.record(round_, draft.action, best, kept_previous, unrecorded(state),
                                   draft.seconds + time.monotonic() - started, len(judged), visible)]
    if not best.all_pass:
        if not tests and ctx.config.feedback != "none":
            update["stop_reason"] = StopReason.NO_FEEDBACK_TESTS
        else:
            update["stop_reason"] = ctx.over_budget(state.get("usage") or Usage(), round_)
    return update


async def feedback(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    round_, tried = state["round"], state.get("tried") or []
    stuck = any(normalized(tried[-1]) == normalized(p) for p in tried[:-1])
    update: dict[str, Any] = {"round": round_ + 1}
    if stuck:
        if state.get("resampled_without_progress"):
            update["stop_reason"] = StopReason.NO_PROGRESS
        else:
            update["resample"] = update["resampled_without_progress"] = True
        ctx.tracer.emit(NoProgress(node="feedback", round=round_, resample=not update.get("stop_reason")))
        return update
    update["resampled_without_progress"] = False
    best = state["best"]  # repair works on the candidate the agent keeps, never a worse newcomer
    assert best is not None
    if ctx.config.feedback == "none":
        text = prompts.render(ctx.family, "review")
    else:
        sources = None if ctx.config.feedback == "hidden" else state.get("feedback_tests")
        text = prompts.render(ctx.family, "repair", feedback=describe(best.verdict, sources),
                              oracle=ctx.config.feedback == "hidden")
    update["messages"] = [ctx.system(), ctx.task(), {"role": "assistant", "content": shown_answer(
        ctx, best.raw, best.completion)}, {"role": "user", "content": text}]
    ctx.tracer.emit(Feedback(node="feedback", round=round_, message=text))
    return update


class RepairPolicy:
    name: ClassVar[str] = "repair"
    reads: ClassVar[frozenset[str]] = frozenset({"feedback", "rounds", "candidates", "temperature",
                                                 "search_temperature", "token_budget", "time_budget"})
    nodes_per_round: ClassVar[int] = 3
    shares_first_round: ClassVar[bool] = True

    prepare = staticmethod(prepare_feedback)

    def build(self, graph: StateGraph) -> str:
        graph.add_node("generate", generate)
        graph.add_node("evaluate", evaluate)
        graph.add_node("feedback", feedback)
        graph.add_edge("generate", "evaluate")
        graph.add_conditional_edges("evaluate", route_after_evaluate, {"finish": "finish", "feedback": "feedback"})
        graph.add_conditional_edges("feedback", route_after_feedback, {"generate": "generate", "finish": "finish"})
        return "generate"


POLICY = RepairPolicy()
