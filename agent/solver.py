"""The `Solver` that `agent solve` and the bench call: it compiles its graph once and runs
it for every problem and sample, with the problem, model and sandbox as run-time context."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, Field

import prompts
from agent.config import SolverConfig, SolverDescription
from agent.context import LLM, RunContext, SharedFirstRound
from agent.graph import build_graph, recursion_limit
from agent.policies import policy_named
from agent.state import Candidate, Usage
from agent.trace import Tracer
from agent.trace_events import HiddenVerdict
from eval.judging import judge_rounds
from eval.problems import Oracle, Problem
from eval.records import RoundRecord, SampleResult
from sandbox.sandbox import Sandbox


class SolveResult(BaseModel):
    """`agent solve`'s result.json."""

    task_id: str | None
    solved: bool
    judged_on: str = Field(description='"hidden" when the problem has hidden tests, else "visible"')
    policy: str
    feedback: str
    oracle: bool
    stop_reason: str | None
    final_completion: str
    final_code: str
    rounds: list[RoundRecord] = Field(description="the answer after each round, with its verdicts")
    usage: Usage
    seconds: float


class Solver:
    def __init__(self, llm: LLM, sandbox: Sandbox, config: SolverConfig, model: str = "", run_name: str = "") -> None:
        self.llm, self.sandbox, self.config = llm, sandbox, config
        self.model, self.run_name = model, run_name
        self.family = config.family or prompts.family_of(model)
        self.graph = build_graph(config.policy)
        self.limits = {"recursion_limit": recursion_limit(config)}

    def describe(self) -> SolverDescription:
        """What decides this solver's answers (the bench's experiment records it)."""
        return SolverDescription(**{**self.config.model_dump(), "family": self.family}, model=self.model)

    def has_capacity(self) -> bool:
        check = getattr(self.llm, "has_capacity", None)
        return True if check is None else bool(check())

    def context(self, problem: Problem, tracer: Tracer, sample: int = 0,
                first: SharedFirstRound | None = None) -> RunContext:
        oracle = Oracle(problem) if self.config.feedback == "hidden" and problem.test is not None else None
        return RunContext(problem=problem.public(), llm=self.llm, sandbox=self.sandbox, config=self.config,
                          tracer=tracer, family=self.family, sample=sample, first=first, oracle=oracle)

    async def run(self, problem: Problem, tracer: Tracer, sample: int = 0,
                  first: SharedFirstRound | None = None) -> SampleResult:
        """One sample: the graph's rounds (without hidden verdicts) and why it stopped."""
        state: dict[str, Any] = await self.graph.ainvoke({}, self.limits, context=self.context(
            problem, tracer, sample, first))
        # both graphs record a round before they can finish: evaluate and act each append one
        return SampleResult(task_id=problem.task_id or problem.entry_point, sample=sample, rounds=state["rounds"],
                            stop_reason=state.get("stop_reason"), trace=tracer.events)

    async def solve(self, problem: Problem, tracer: Tracer | None = None) -> SolveResult:
        tracer = tracer or Tracer(task=problem.task_id or problem.entry_point)
        started = asyncio.get_running_loop().time()
        result = await self.run(problem, tracer)
        rounds, final = result.rounds, result.rounds[-1]
        if problem.test is not None:
            rounds = await judge_rounds(problem, result, self._sandbox_run, self.config.timeout)
            final = rounds[-1]
            solved, judged_on = bool(final.hidden_passed), "hidden"
            tracer.emit(HiddenVerdict(node="finish", round=final.round, verdict=final.hidden_result or ""))
        else:
            solved, judged_on = bool(final.feedback_total and final.feedback_passed == final.feedback_total), "visible"
        usage = Usage(prompt_tokens=sum(r.prompt_tokens for r in rounds),
                      completion_tokens=sum(r.completion_tokens for r in rounds))
        return SolveResult(
            task_id=problem.task_id, solved=solved, judged_on=judged_on, policy=self.config.policy,
            feedback=self.config.feedback, oracle=self.config.feedback == "hidden", stop_reason=result.stop_reason,
            final_completion=final.completion, final_code=problem.prompt + final.completion, rounds=rounds,
            usage=usage, seconds=round(asyncio.get_running_loop().time() - started, 3))

    async def _sandbox_run(self, job):
        return await asyncio.to_thread(self.sandbox.run, job)

    # ------------------------------------------------------------------ the bench's seam
    async def solve_samples(self, problem: Problem, samples: list[int],
                            on_sample: Callable[[SampleResult], Awaitable[None]]) -> None:
        """Independent samples of one problem; their round-0 replies come from one request."""
        firsts: list[SharedFirstRound | None] = [None] * len(samples)
        if len(samples) > 1 and policy_named(self.config.policy).shares_first_round and problem.code is None:
            firsts = list(await self._shared_first_round(problem, samples))

        async def one(sample: int, first: SharedFirstRound | None) -> None:
            tracer = Tracer(run=self.run_name, task=problem.task_id or problem.entry_point, sample=sample)
            await on_sample(await self.run(problem, tracer, sample, first))

        await asyncio.gather(*(one(s, f) for s, f in zip(samples, firsts)))

    async def _shared_first_round(self, problem: Problem, samples: list[int]) -> list[SharedFirstRound]:
        per_sample = self.config.candidates
        ctx = self.context(problem, Tracer())
        messages = [ctx.system(), ctx.task()]
        temperature = ctx.sampling_temperature(per_sample > 1)
        # Greedy decoding gives every sample the same reply (and vLLM refuses n > 1 without
        # sampling): one choice is asked for and shared, its tokens split among the samples.
        wanted = per_sample * len(samples) if temperature > 0 else 1
        started = asyncio.get_running_loop().time()
        reply, _ = await ctx.ask(messages, "generate", 0, n=wanted, temperature=temperature)
        seconds = asyncio.get_running_loop().time() - started
        candidates: list[Candidate] = ctx.candidates_from(reply)
        if wanted == 1:
            candidates = candidates * len(samples)
        shares = apportion(reply.completion_tokens, [len(c.raw) + 1 for c in candidates])
        prompt_shares = apportion(reply.prompt_tokens, [1] * len(samples))
        out = []
        for index, sample in enumerate(samples):
            group = slice(index * per_sample, (index + 1) * per_sample)
            out.append(SharedFirstRound(
                candidates=candidates[group], messages=messages, seconds=seconds,
                usage=Usage(prompt_tokens=prompt_shares[index], completion_tokens=sum(shares[group])),
                shared={"choices": len(candidates), "samples": samples,
                        "request_completion_tokens": reply.completion_tokens}))
        return out


def apportion(total: int, weights: list[int]) -> list[int]:
    """Integer shares of `total` proportional to `weights`, summing exactly to `total`."""
    if not weights:
        return []
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    for i in sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))[: total - sum(shares)]:
        shares[i] += 1
    return shares
