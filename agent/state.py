"""The controller's one typed state. Nodes return updates; values that accumulate
(rounds, usage, what was tried, visible verdicts) have reducers, the rest is replaced."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field

from agent.consensus import Behaviour, Selection
from agent.inputs import TestInput
from eval.records import RoundRecord
from sandbox.verdict import Verdict

Action = Literal["given", "generate", "repair", "resample", "review", "react", "sample", "sample+repair"]


class Candidate(BaseModel):
    completion: str = Field(description="what follows the prompt in the program")
    raw: str = Field("", description="the model's reply, as it came")
    verdict: Verdict | None = None
    passed: int = 0
    total: int = 0
    behaviour: Behaviour | None = Field(None, description="search: its outcomes on the problem's inputs")

    @property
    def all_pass(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @property
    def error_kind(self) -> str:
        failure = self.verdict.first_failure if self.verdict else None
        return failure.kind if failure else ("passed" if self.all_pass else "untested")

    def judged(self, verdict: Verdict | None) -> "Candidate":
        """A copy carrying `verdict` (None: there were no tests to judge it with)."""
        return self.model_copy(update={"verdict": verdict, "passed": verdict.tests_passed if verdict else 0,
                                       "total": len(verdict.tests) if verdict else 0})


def replaces(best: Candidate | None, candidate: Candidate) -> bool:
    """Whether `candidate` becomes the agent's answer over the best so far: unless it
    passes fewer feedback tests (a tie goes to the newer one)."""
    return best is None or candidate.passed >= best.passed


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens)


class Draft(BaseModel):
    """A round's candidates between `generate` and `evaluate`, not judged yet."""

    round: int
    action: Action
    candidates: list[Candidate]
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0


def merged(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    return {**(old or {}), **(new or {})}


class AgentState(TypedDict, total=False):
    round: int
    feedback_tests: list[str]  # chosen once, by `prepare`
    visible_tests: list[str]  # the docstring's examples: every round records whether its candidate passes them
    draft: Draft | None
    best: Candidate | None
    rounds: Annotated[list[RoundRecord], operator.add]
    tried: Annotated[list[str], operator.add]  # each round's own chosen completion, to notice no progress
    visible: Annotated[dict[str, bool], merged]  # completion -> passes the visible tests
    usage: Annotated[Usage, operator.add]
    messages: list[dict[str, Any]]
    resample: bool
    resampled_without_progress: bool
    stop_reason: str | None
    submitted: bool
    inputs: list[TestInput]  # search: what every candidate runs on, chosen by `prepare`
    pool: Annotated[list[Candidate], operator.add]  # search: every candidate drawn, with its behaviour
    selection: Selection | None  # search: the clusters and the answer after the last round
