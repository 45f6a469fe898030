"""The `search` policy: width where it pays, depth where it has something to say.

prepare chooses the problem's inputs (`agent.inputs`) -> draw a small batch of fresh
samples (plus, when the leading answer fails an example, one repair shown a concrete
counterexample) -> observe: every new candidate runs on every input in one sandbox job,
the clusters are rebuilt over all candidates so far and `agent.consensus.select` picks the
answer -> stop when one cluster clearly leads, or the next batch would overrun the token
budget, or the rounds are spent; otherwise draw again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

import prompts
from agent import prefill
from agent.consensus import Selection, behaviour_of, select
from agent.context import RunContext, unrecorded
from agent.extract import parse_asserts
from agent.feedback import describe
from agent.inputs import TestInput, gather_inputs
from agent.policies.base import shown_answer, visible_tests
from agent.state import AgentState, Candidate, Draft, Usage
from agent.trace_events import Feedback, InputsChosen, SelectionMade, StopReason
from sandbox.verdict import Verdict
from tools.calls import observation_job

MODEL_TEST_TOKENS = 256


async def prepare(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The examples judge; the inputs every candidate will run on are chosen once."""
    ctx = runtime.context
    visible = visible_tests(ctx)
    inputs, usage, proposed = await choose_inputs(ctx, visible)
    ctx.tracer.emit(InputsChosen(node="prepare", round=0, proposed=proposed,
                                 inputs=[i.model_dump(exclude_none=True) for i in inputs]))
    return {"round": 0, "inputs": inputs, "feedback_tests": visible, "visible_tests": visible, "usage": usage}


async def choose_inputs(ctx: RunContext, visible: list[str]) -> tuple[list[TestInput], Usage, list[str]]:
    """The inputs every candidate runs on, the tokens their proposal cost, and the model's asserts."""
    usage, proposed = Usage(), []
    if ctx.config.propose_tests:
        message = {"role": "user", "content": prompts.render(ctx.family, "self_tests", prompt=ctx.problem.prompt,
                                                             entry_point=ctx.problem.entry_point)}
        reply, usage = await ctx.ask([ctx.system(), message], "prepare", 0, temperature=0.0,
                                     prefix=prefill.TESTS_PREFIX if ctx.config.prefill else None,
                                     max_tokens=min(MODEL_TEST_TOKENS, ctx.config.max_tokens))
        proposed = parse_asserts(reply.choices[0].text, ctx.problem.entry_point)
    inputs = gather_inputs(ctx.problem.prompt, ctx.problem.entry_point, visible, proposed, ctx.config.inputs)
    return inputs, usage, proposed


def counterexample_feedback(ctx: RunContext, state: AgentState) -> str | None:
    """What the leading answer is shown when it fails an example: the failing examples
    (call, expected, got) and an input where another candidate behaves differently."""
    selection, inputs, pool = state.get("selection"), state.get("inputs") or [], state.get("pool") or []
    if selection is None or not any(i.source == "example" for i in inputs):
        return None
    leader = selection.leader
    if leader.examples_passed == leader.examples_total:
        return None
    best = pool[selection.chosen]
    verdict = best.verdict
    assert verdict is not None
    examples = [i for i, test in enumerate(inputs) if test.source == "example"]
    shown = Verdict(passed=False, result="", tests=[verdict.tests[i] for i in examples], output=verdict.output)
    text = describe(shown, [inputs[i].test for i in examples])
    index = selection.counterexample
    if index is not None and inputs[index].source != "example":
        rival = next(c for c in selection.clusters[1:] if not c.broken)
        theirs = pool[rival.members[0]].behaviour
        mine = best.behaviour
        assert theirs is not None and mine is not None
        text += (f"\nAlso, on `{inputs[index].call}` your function gives {mine.shown[index]}, "
                 f"while another attempt gives {theirs.shown[index]}; check which is right.")
    return text


async def draw(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    round_ = state.get("round", 0)
    started = time.monotonic()
    blind = not state.get("visible_tests")  # no example to veto with: sample nearer the model's best
    temperature = ctx.config.blind_temperature if blind else ctx.sampling_temperature(True)
    requests = [ctx.ask([ctx.system(), ctx.task()], "draw", round_, n=ctx.config.candidates, temperature=temperature,
                        prefix=ctx.answer_prefix)]
    if round_ == 0 and ctx.config.greedy_first:
        requests.insert(0, ctx.ask([ctx.system(), ctx.task()], "draw", round_, n=1, temperature=0.0,
                                   prefix=ctx.answer_prefix))
    feedback_text = counterexample_feedback(ctx, state) if round_ > 0 else None
    if feedback_text is not None:
        selection, pool = state["selection"], state.get("pool") or []
        assert selection is not None
        best = pool[selection.chosen]
        shown = shown_answer(ctx, best.raw, best.completion)
        text = prompts.render(ctx.family, "repair", feedback=feedback_text, oracle=False)
        ctx.tracer.emit(Feedback(node="draw", round=round_, message=text))
        messages = [ctx.system(), ctx.task(), {"role": "assistant", "content": shown}, {"role": "user", "content": text}]
        requests.append(ctx.ask(messages, "draw", round_, n=1, temperature=temperature, prefix=ctx.answer_prefix))
    replies = await asyncio.gather(*requests)
    candidates = [c for reply, _ in replies for c in ctx.candidates_from(reply)]
    usage = sum((u for _, u in replies), Usage())
    action = "sample+repair" if feedback_text is not None else "sample"
    draft = Draft(round=round_, action=action, candidates=candidates, usage=usage, seconds=time.monotonic() - started)
    return {"draft": draft, "usage": usage}


async def observe(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Runs the round's candidates on the inputs, rebuilds the clusters, picks the answer."""
    ctx = runtime.context
    draft, round_, inputs = state["draft"], state["round"], state.get("inputs") or []
    started = time.monotonic()
    tests = [i.test for i in inputs]
    verdicts: list[Verdict | None] = [None] * len(draft.candidates)
    if tests:
        jobs = [observation_job(ctx.problem.prompt, ctx.problem.entry_point, c.completion, tests, ctx.prelude,
                                ctx.config.input_timeout, ctx.setup) for c in draft.candidates]
        verdicts = list(await asyncio.gather(*(asyncio.to_thread(ctx.sandbox.run, job) for job in jobs)))
    examples = [i for i, test in enumerate(inputs) if test.source == "example"]
    new = []
    for candidate, verdict in zip(draft.candidates, verdicts):
        behaviour = behaviour_of(verdict) if verdict is not None else None
        passed = sum(behaviour.passed[i] for i in examples) if behaviour else 0
        new.append(candidate.model_copy(update={"verdict": verdict, "behaviour": behaviour, "passed": passed,
                                                "total": len(examples)}))
    pool = (state.get("pool") or []) + new
    prior = 0 if ctx.config.greedy_prior else None  # it needs greedy_first: the greedy answer is drawn first
    selection = select(inputs, [c.behaviour for c in pool], ctx.config.consensus_margin, prior) if tests else None
    best = pool[selection.chosen] if selection else pool[0]
    judge_seconds = time.monotonic() - started
    ctx.tracer.emit(SelectionMade(node="observe", round=round_, **_trace_facts(selection, pool, len(new))),
                    judge_seconds)
    spent = unrecorded(state)
    record = ctx.record(
        round_, draft.action, best, kept_previous=selection is not None and selection.chosen < len(pool) - len(new),
        usage=spent,
        seconds=draft.seconds + judge_seconds, candidates=len(new), visible=best.all_pass if examples else None,
        selected_by=selection.reason if selection else "the only candidate: no inputs to compare on",
        cluster_size=selection.leader.size if selection else 1, clusters=len(selection.clusters) if selection else 1,
        drawn=[c.completion for c in new], judge_seconds=round(judge_seconds, 3))
    update: dict[str, Any] = {"pool": new, "selection": selection, "best": best, "draft": None, "rounds": [record]}
    reason = stop_reason(ctx, state.get("usage") or Usage(), round_, selection, draft)
    if reason:
        update["stop_reason"] = reason
    else:
        update["round"] = round_ + 1
    return update


def stop_reason(ctx: RunContext, usage: Usage, round_: int, selection: Selection | None,
                draft: Draft) -> StopReason | None:
    if selection is None:
        return StopReason.NO_INPUTS
    if selection.dominant:
        return StopReason.CONSENSUS
    spent = ctx.over_budget(usage, round_)
    if spent:
        return spent
    budget = ctx.config.token_budget
    per_reply = draft.usage.completion_tokens / max(len(draft.candidates), 1)
    leader = selection.leader
    replies = ctx.config.candidates + (leader.examples_passed < leader.examples_total)  # a repair joins the batch
    if budget is not None and usage.completion_tokens + per_reply * replies > budget:
        return StopReason.BATCH_WOULD_OVERRUN
    return None


def route_after_observe(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") else "draw"


def _trace_facts(selection: Selection | None, pool: list[Candidate], new: int) -> dict[str, Any]:
    if selection is None:
        return {"chosen": 0, "reason": "no inputs"}
    return {"chosen": selection.chosen, "reason": selection.reason, "dominant": selection.dominant,
            "new": new, "kept_inputs": selection.kept_inputs, "counterexample": selection.counterexample,
            "clusters": [c.model_dump() for c in selection.clusters],
            "candidates": [{"completion": c.completion, "examples_passed": c.passed, "examples": c.total,
                            "outcomes": c.behaviour.outcomes if c.behaviour else None} for c in pool]}


class SearchPolicy:
    name: ClassVar[str] = "search"
    reads: ClassVar[frozenset[str]] = frozenset({"rounds", "candidates", "temperature", "search_temperature",
                                                 "token_budget", "time_budget", "inputs", "propose_tests",
                                                 "consensus_margin", "input_timeout", "prefill",
                                                 "greedy_first", "greedy_prior", "blind_temperature"})
    nodes_per_round: ClassVar[int] = 2
    shares_first_round: ClassVar[bool] = False

    prepare = staticmethod(prepare)

    def build(self, graph: StateGraph) -> str:
        graph.add_node("draw", draw)
        graph.add_node("observe", observe)
        graph.add_edge("draw", "observe")
        graph.add_conditional_edges("observe", route_after_observe, {"draw": "draw", "finish": "finish"})
        return "draw"


POLICY = SearchPolicy()
