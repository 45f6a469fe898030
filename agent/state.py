"""The controller's typed state and the records it keeps."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, Field

from sandbox.verdict import Verdict


class Candidate(BaseModel):
    completion: str = Field(description="what follows the prompt in the program")
    raw: str = Field("", description="the model's reply, as it came")
    verdict: Verdict | None = None
    passed: int = 0
    total: int = 0

    @property
    def all_pass(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @property
    def error_kind(self) -> str:
        failure = self.verdict.first_failure if self.verdict else None
        return failure.kind if failure else ("passed" if self.all_pass else "untested")


def replaces(best: Candidate | None, candidate: Candidate) -> bool:
    """Whether `candidate` becomes the agent's answer over the best so far: unless it
    passes fewer feedback tests (a tie goes to the newer one)."""
    return best is None or candidate.passed >= best.passed


class RoundRecord(BaseModel):
    round: int
    action: Literal["given", "generate", "repair", "resample", "review", "react"]
    candidates: list[Candidate]
    best: int = 0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0

    @property
    def chosen(self) -> Candidate:
        return self.candidates[self.best]


class AgentState(TypedDict, total=False):
    round: int
    messages: list[dict[str, Any]]
    rounds: list[RoundRecord]
    best: Candidate | None
    resample: bool
    resampled_without_progress: bool
    stop_reason: str | None
    steps: int
    submitted: Candidate | None
