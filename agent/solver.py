"""Solves one problem with the controller and reports it: the `Solver` that `agent
solve` and the bench call."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, Field

import prompts
from agent.config import SolverConfig
from agent.graph import LLM, Controller, SharedFirstRound, build_graph
from agent.state import Candidate, RoundRecord, replaces
from agent.trace import Tracer
from eval.problems import Problem, hidden_job
from eval.solver import SampleResult, SampleRound
from sandbox.sandbox import Sandbox
from tools.visible_tests import extract_visible_tests


class RoundVerdict(BaseModel):
    round: int
    action: str
    candidates: int
    feedback_passed: int
    feedback_total: int
    error_kind: str
    hidden_passed: bool | None = None
    completion: str
    completion_tokens: int = 0
    seconds: float = 0.0


class SolveResult(BaseModel):
    task_id: str | None
    solved: bool
    judged_on: str = Field(description='"hidden" when the problem has hidden tests, else "visible"')
    policy: str
    feedback: str
    oracle: bool
    rounds: int
    stop_reason: str | None
    final_completion: str
    final_code: str
    round_verdicts: list[RoundVerdict]
    usage: dict[str, int]
    seconds: float


class Solver:
    """The agent as `agent solve` and the bench (`eval.solver.Solver`) call it."""

    def __init__(self, llm: LLM, sandbox: Sandbox, config: SolverConfig, model: str = "", run_name: str = "") -> None:
        self.llm, self.sandbox, self.config = llm, sandbox, config
        self.model, self.run_name = model, run_name
        self.family = config.family or prompts.family_of(model)

    @staticmethod
    def description(config: SolverConfig, model: str) -> dict[str, Any]:
        """What decides this solver's answers (the bench's experiment records it)."""
        return {**config.model_dump(), "model": model, "family": config.family or prompts.family_of(model)}

    def describe(self) -> dict[str, Any]:
        return self.description(self.config, self.model)

    def has_capacity(self) -> bool:
        check = getattr(self.llm, "has_capacity", None)
        return True if check is None else bool(check())

    async def _run(self, problem: Problem, tracer: Tracer, first: SharedFirstRound | None = None
                   ) -> tuple[Controller, dict[str, Any], list[RoundRecord], Candidate | None]:
        controller = Controller(problem, self.llm, self.sandbox, self.config, tracer, self.family, first)
        graph = build_graph(controller, self.config.policy)
        state: dict[str, Any] = await graph.ainvoke({"round": 0, "rounds": [], "messages": [], "best": None},
                                                    {"recursion_limit": 8 * (self.config.rounds + 2) + 10})
        best: Candidate | None = state.get("best")
        records: list[RoundRecord] = state.get("rounds", [])
        if self.config.policy == "react":
            records = [RoundRecord(round=0, action="react", candidates=[best],
                                   completion_tokens=controller.completion_tokens,
                                   prompt_tokens=controller.prompt_tokens,
                                   seconds=time.monotonic() - controller.started)] if best else []
        return controller, state, records, best

    async def solve(self, problem: Problem, tracer: Tracer | None = None,
                    on_round: Callable[[RoundVerdict], None] = lambda r: None) -> SolveResult:
        tracer = tracer or Tracer(task=problem.task_id or problem.entry_point)
        started = time.monotonic()
        controller, state, records, best = await self._run(problem, tracer)
        final = best.completion if best else ""
        verdicts = await self._round_verdicts(problem, records)
        for verdict in verdicts:
            on_round(verdict)
        if problem.test is not None:
            hidden = await asyncio.to_thread(self.sandbox.run, hidden_job(problem, final, self.config.timeout))
            solved, judged_on = hidden.passed, "hidden"
            tracer.event("finish", "verdict", state.get("round", 0), hidden.duration, hidden=True,
                         verdict=hidden.result)
        else:
            solved, judged_on = bool(best and best.all_pass), "visible"
        return SolveResult(
            task_id=problem.task_id, solved=solved, judged_on=judged_on, policy=self.config.policy,
            feedback=self.config.feedback, oracle=self.config.feedback == "hidden",
            rounds=len(records), stop_reason=state.get("stop_reason"), final_completion=final,
            final_code=problem.prompt + final, round_verdicts=verdicts,
            usage={"prompt_tokens": controller.prompt_tokens, "completion_tokens": controller.completion_tokens},
            seconds=round(time.monotonic() - started, 3),
        )

    # ------------------------------------------------------------------ the bench's seam
    async def solve_samples(self, problem: Problem, samples: list[int],
                            on_sample: Callable[[SampleResult], Awaitable[None]]) -> None:
        """Independent samples of one problem; their round-0 replies come from one request."""
        firsts: list[SharedFirstRound | None] = [None] * len(samples)
        if len(samples) > 1 and self.config.policy == "repair" and problem.code is None:
            firsts = list(await self._shared_first_round(problem, samples))

        async def one(sample: int, first: SharedFirstRound | None) -> None:
            tracer = Tracer(run=self.run_name, task=problem.task_id or problem.entry_point, sample=sample)
            controller, state, records, best = await self._run(problem, tracer, first)
            rounds = await self._sample_rounds(problem, records, controller)
            if not rounds:  # nothing was ever submitted: judged as an empty completion
                rounds = [SampleRound(round=0, action="none", completion="", visible_passed=None,
                                      prompt_tokens=controller.prompt_tokens,
                                      completion_tokens=controller.completion_tokens)]
            await on_sample(SampleResult(task_id=problem.task_id or problem.entry_point, sample=sample,
                                         rounds=rounds, stop_reason=state.get("stop_reason"), trace=tracer.events))

        await asyncio.gather(*(one(s, f) for s, f in zip(samples, firsts)))

    async def _shared_first_round(self, problem: Problem, samples: list[int]) -> list[SharedFirstRound]:
        per_sample = self.config.candidates
        scratch = Controller(problem, self.llm, self.sandbox, self.config, Tracer(), self.family)
        messages = [scratch.system(), scratch.task()]
        temperature = max(self.config.temperature, self.config.search_temperature) if per_sample > 1 \
            else self.config.temperature
        started = time.monotonic()
        reply = await scratch.ask(messages, "generate", 0, n=per_sample * len(samples), temperature=temperature)
        seconds = time.monotonic() - started
        candidates = scratch.candidates_from(reply)
        shares = apportion(reply.completion_tokens, [len(c.raw) + 1 for c in candidates])
        prompt_shares = apportion(reply.prompt_tokens, [1] * len(samples))
        out = []
        for index, sample in enumerate(samples):
            group = slice(index * per_sample, (index + 1) * per_sample)
            out.append(SharedFirstRound(candidates=candidates[group], messages=messages,
                                        prompt_tokens=prompt_shares[index],
                                        completion_tokens=sum(shares[group]), seconds=seconds,
                                        shared={"choices": len(candidates), "samples": samples,
                                                "request_completion_tokens": reply.completion_tokens}))
        return out

    async def _sample_rounds(self, problem: Problem, records: list[RoundRecord],
                             controller: Controller) -> list[SampleRound]:
        """The sample's current candidate after each round, as the controller keeps it: a
        round's candidate replaces the best so far unless it passes fewer feedback tests.
        With its verdict on the visible tests (None without any)."""
        visible_from_feedback = self.config.feedback == "visible"
        tests = controller.feedback_tests if visible_from_feedback else (
            problem.visible_tests or extract_visible_tests(problem.prompt, problem.entry_point))
        cache: dict[str, bool] = {}
        rounds = []
        best: Candidate | None = None
        for record in records:
            chosen = record.chosen
            kept = not replaces(best, chosen)
            if not kept:
                best = chosen
            assert best is not None
            visible: bool | None = None
            if tests:
                if visible_from_feedback and best.verdict is not None:
                    visible = best.all_pass
                else:
                    if best.completion not in cache:
                        job = controller.checks(best.completion, tests)
                        cache[best.completion] = (await asyncio.to_thread(self.sandbox.run, job)).passed
                    visible = cache[best.completion]
            rounds.append(SampleRound(round=record.round, action=record.action, completion=best.completion,
                                      kept_previous=kept, visible_passed=visible, feedback_passed=best.passed,
                                      feedback_total=best.total, prompt_tokens=record.prompt_tokens,
                                      completion_tokens=record.completion_tokens, seconds=round(record.seconds, 3)))
        return rounds

    async def _round_verdicts(self, problem: Problem, records: list[RoundRecord]) -> list[RoundVerdict]:
        """Each round's chosen candidate, with its hidden verdict when the problem has one."""
        hidden: list[bool | None] = [None] * len(records)
        if problem.test is not None and records:
            runs = [asyncio.to_thread(self.sandbox.run, hidden_job(problem, r.chosen.completion, self.config.timeout))
                    for r in records]
            hidden = [v.passed for v in await asyncio.gather(*runs)]
        return [
            RoundVerdict(round=r.round, action=r.action, candidates=len(r.candidates), feedback_passed=r.chosen.passed,
                         feedback_total=r.chosen.total, error_kind=r.chosen.error_kind, hidden_passed=h,
                         completion=r.chosen.completion, completion_tokens=r.completion_tokens,
                         seconds=round(r.seconds, 3))
            for r, h in zip(records, hidden)
        ]


def apportion(total: int, weights: list[int]) -> list[int]:
    """Integer shares of `total` proportional to `weights`, summing exactly to `total`."""
    if not weights:
        return []
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    for i in sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))[: total - sum(shares)]:
        shares[i] += 1
    return shares
