"""Solves one problem with the controller and reports it: the `Solver` that `agent
solve` and the bench call."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from pydantic import BaseModel, Field

import prompts
from agent.config import SolverConfig
from agent.graph import LLM, Controller, build_graph
from agent.state import Candidate, RoundRecord
from agent.trace import Tracer
from eval.problems import Problem, hidden_job
from sandbox.sandbox import Sandbox


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
    def __init__(self, llm: LLM, sandbox: Sandbox, config: SolverConfig, model: str = "") -> None:
        self.llm, self.sandbox, self.config = llm, sandbox, config
        self.family = config.family or prompts.family_of(model)

    async def solve(self, problem: Problem, tracer: Tracer | None = None,
                    on_round: Callable[[RoundVerdict], None] = lambda r: None) -> SolveResult:
        tracer = tracer or Tracer(task=problem.task_id or problem.entry_point)
        started = time.monotonic()
        controller = Controller(problem, self.llm, self.sandbox, self.config, tracer, self.family)
        graph = build_graph(controller, self.config.policy)
        state: dict[str, Any] = await graph.ainvoke({"round": 0, "rounds": [], "messages": [], "best": None},
                                                    {"recursion_limit": 8 * (self.config.rounds + 2) + 10})
        best: Candidate | None = state.get("best")
        records: list[RoundRecord] = state.get("rounds", [])
        if self.config.policy == "react":
            records = [RoundRecord(round=0, action="react", candidates=[best])] if best else []
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
