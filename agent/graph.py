"""The LangGraph controller: one typed state, small nodes that return updates, pure
routers, explicit path maps. The problem, model, sandbox, tracer and configuration come
as run-time context, so a solver compiles each graph once and runs it for every sample.

`repair`: prepare (choose the feedback tests) -> generate N candidates (one request) ->
evaluate them, the best so far goes on -> all pass: finish | budget left: feedback on the
best so far -> generate. The same code again means no progress: the next round samples
afresh; no progress after that ends the run. `react`: prepare -> the model picks tools
(one step is one round) until it submits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

import prompts
from agent.config import Policy, SolverConfig
from agent.context import RunContext, unrecorded
from agent.extract import normalized, parse_asserts
from agent.feedback import describe
from agent.react import act
from agent.search import choose_inputs, draw, observe, route_after_observe
from agent.state import AgentState, Candidate, Draft, Usage, replaces
from tools.visible_tests import extract_visible_tests

# ------------------------------------------------------------------ pure routers


def route_after_evaluate(state: AgentState) -> str:
    if state.get("stop_reason"):
        return "finish"
    best = state.get("best")
    return "finish" if best is not None and best.all_pass else "feedback"


def route_after_feedback(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") else "generate"


def route_after_act(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") or state.get("submitted") else "act"


# ------------------------------------------------------------------ nodes


async def prepare(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Chooses the feedback tests once per run; the `self` mode asks the model for them here."""
    ctx = runtime.context
    problem, mode = ctx.problem, ctx.config.feedback
    visible = problem.visible_tests or extract_visible_tests(problem.prompt, problem.entry_point)
    usage = Usage()
    if mode == "visible":
        tests = visible
    elif mode == "hidden":
        tests = ["check"] if ctx.oracle is not None else []
    elif mode == "self" and ctx.config.policy != "search":
        message = {"role": "user", "content": prompts.render(ctx.family, "self_tests", prompt=problem.prompt,
                                                             entry_point=problem.entry_point)}
        reply, usage = await ctx.ask([ctx.system(), message], "prepare", 0, temperature=0.0)
        tests = parse_asserts(reply.choices[0].text, problem.entry_point)
    else:
        tests = []
    update: dict[str, Any] = {"round": 0}
    if ctx.config.policy == "search":
        tests = visible
        inputs, usage, proposed = await choose_inputs(ctx, visible)
        update["inputs"] = inputs
        ctx.tracer.event("prepare", "inputs", 0, 0.0, proposed=proposed,
                         inputs=[i.model_dump(exclude_none=True) for i in inputs])
    ctx.tracer.event("prepare", "tool", 0, 0.0, feedback=mode, tests=tests)
    return {**update, "feedback_tests": tests, "visible_tests": visible, "usage": usage}


async def generate(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    round_ = state.get("round", 0)
    started = time.monotonic()
    usage = Usage()
    if round_ == 0 and ctx.problem.code is not None:
        action, candidates = "given", [Candidate(completion="\n" + ctx.problem.code.rstrip() + "\n")]
        ctx.tracer.event("generate", "given", round_, 0.0, code=ctx.problem.code)
    elif round_ == 0 and ctx.first is not None:
        action, candidates, usage = "generate", list(ctx.first.candidates), ctx.first.usage
        ctx.tracer.event("generate", "llm", round_, ctx.first.seconds, messages=ctx.first.messages,
                         replies=[c.raw for c in candidates], shared=ctx.first.shared,
                         tokens={"prompt": usage.prompt_tokens, "completion": usage.completion_tokens})
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
    verdicts = await asyncio.gather(*(ctx.judge(c.completion, tests, round_) for c in draft.candidates))
    judged = [c.judged(v) for c, v in zip(draft.candidates, verdicts)]
    chosen_index = max(range(len(judged)), key=lambda i: (judged[i].passed, -i))
    chosen, previous = judged[chosen_index], state.get("best")
    kept_previous = not replaces(previous, chosen)
    best = previous if kept_previous else chosen
    assert best is not None
    ctx.tracer.event("evaluate", "verdict", round_, time.monotonic() - started, best=chosen_index,
                     candidates=[{"completion": c.completion, "passed": c.passed, "total": c.total,
                                  "error": c.error_kind} for c in judged])
    visible = await ctx.visible_verdict(best, state)
    update: dict[str, Any] = {"best": best, "draft": None, "tried": [chosen.completion],
                              "visible": {} if visible is None else {best.completion: visible}}
    spent = unrecorded(state)
    update["rounds"] = [ctx.record(round_, draft.action, best, kept_previous, spent,
                                   draft.seconds + time.monotonic() - started, len(judged), visible)]
    if not best.all_pass:
        if not tests and ctx.config.feedback != "none":
            update["stop_reason"] = "no feedback tests to repair against"
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
            update["stop_reason"] = "no progress, even after sampling afresh"
        else:
            update["resample"] = update["resampled_without_progress"] = True
        ctx.tracer.event("feedback", "no_progress", round_, 0.0, resample=not update.get("stop_reason"))
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
    shown = best.raw if best.raw.strip() else f"```python\n{ctx.problem.prompt}{best.completion}```"
    update["messages"] = [ctx.system(), ctx.task(), {"role": "assistant", "content": shown},
                          {"role": "user", "content": text}]
    ctx.tracer.event("feedback", "feedback", round_, 0.0, message=text)
    return update


async def finish(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    best = state.get("best")
    reason = state.get("stop_reason") or ("tests pass" if best is not None and best.all_pass else
                                          "submitted" if state.get("submitted") else None)
    runtime.context.tracer.event("finish", "stop", state.get("round", 0), 0.0, reason=reason)
    return {"stop_reason": reason}


# ------------------------------------------------------------------ the graphs


def build_graph(policy: Policy):
    """The compiled graph for `policy`, reused for every run; its shape is snapshot-tested."""
    graph = StateGraph(AgentState, context_schema=RunContext)
    graph.add_node("prepare", prepare)
    graph.add_node("finish", finish)
    graph.add_edge(START, "prepare")
    if policy == "repair":
        graph.add_node("generate", generate)
        graph.add_node("evaluate", evaluate)
        graph.add_node("feedback", feedback)
        graph.add_edge("prepare", "generate")
        graph.add_edge("generate", "evaluate")
        graph.add_conditional_edges("evaluate", route_after_evaluate, {"finish": "finish", "feedback": "feedback"})
        graph.add_conditional_edges("feedback", route_after_feedback, {"generate": "generate", "finish": "finish"})
    elif policy == "search":
        graph.add_node("draw", draw)
        graph.add_node("observe", observe)
        graph.add_edge("prepare", "draw")
        graph.add_edge("draw", "observe")
        graph.add_conditional_edges("observe", route_after_observe, {"draw": "draw", "finish": "finish"})
    else:
        graph.add_node("act", act)
        graph.add_edge("prepare", "act")
        graph.add_conditional_edges("act", route_after_act, {"act": "act", "finish": "finish"})
    graph.add_edge("finish", END)
    return graph.compile()


def recursion_limit(config: SolverConfig) -> int:
    """LangGraph's step limit for one run: prepare and finish, and per round at most three
    nodes (generate, evaluate, feedback) or one (act); with room to spare."""
    per_round = {"repair": 3, "search": 2}.get(config.policy, 1)
    return 2 + per_round * (config.rounds + 1) + 5
