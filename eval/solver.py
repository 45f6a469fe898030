"""The seam between the bench and whatever solves problems: `eval` defines it, the CLI
hands the agent in (so `eval` never imports `agent`)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol

from pydantic import BaseModel, Field

from eval.problems import Problem


class SampleRound(BaseModel):
    """One round of one sample: the candidate the sample holds after that round (the best
    so far, which may come from an earlier round), and what the round cost."""

    round: int
    action: str
    completion: str = Field(description="the sample's current candidate: what follows the prompt in the program")
    kept_previous: bool = Field(False, description="this round's candidate passed fewer feedback tests than the "
                                                   "best so far, which the sample kept")
    visible_passed: bool | None = Field(description="passes the visible tests; None without visible tests")
    feedback_passed: int = 0
    feedback_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class SampleResult(BaseModel):
    """One finished sample: every round it reached, why it stopped, and its trace."""

    task_id: str
    sample: int
    rounds: list[SampleRound]
    stop_reason: str | None = None
    trace: list[dict[str, Any]] = Field(default_factory=list)


class Solver(Protocol):
    async def solve_samples(self, problem: Problem, samples: list[int],
                            on_sample: Callable[[SampleResult], Awaitable[None]]) -> None:
        """Runs the given independent samples of `problem` and awaits `on_sample` as each finishes.
        An exception means the environment failed (server, sandbox); the bench stops cleanly."""
        ...

    def has_capacity(self) -> bool:
        """Whether starting another problem now would find the model server idle capacity."""
        ...

    def describe(self) -> dict[str, Any]:
        """What to record in run.json: model, server, policy settings."""
        ...
