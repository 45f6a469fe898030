"""The one round record: what a sample holds after each round. The agent's graph makes
it, the bench adds the hidden verdict and writes it as an `attempts.jsonl` line, the report
reads it back, and `agent solve` shows it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.trace_events import TraceEvent


class RoundRecord(BaseModel):
    """One round of one sample. `completion` is the candidate the sample holds after the
    round: the best so far, which may come from an earlier round (`kept_previous`)."""

    model_config = ConfigDict(extra="ignore")

    task_id: str
    sample: int = 0
    round: int
    action: str = Field(description="given, generate, repair, resample, review, react, or none")
    candidates: int = Field(1, description="candidates the round drew")
    tool: str | None = Field(None, description="react: the tool the model called in this step")
    observation: str | None = Field(None, description="react: what the tool answered the model")
    completion: str = Field(description="what follows the prompt in the program")
    code: str = Field("", description="the program: prompt + completion")
    kept_previous: bool = Field(False, description="this round's own candidate passed fewer feedback tests than "
                                                   "the best so far, which the sample kept")
    visible_passed: bool | None = Field(None, description="passes the visible tests; None without any")
    feedback_passed: int = 0
    feedback_total: int = 0
    feedback_error: str | None = Field(None, description="kind of the first failing feedback test, or passed")
    hidden_passed: bool | None = Field(None, description="None until judged on the hidden tests")
    hidden_result: str | None = None
    base_passed: bool | None = Field(None, description="evalplus: passes the base inputs (hidden_passed: base and "
                                                       "extra inputs, the plus verdict); None for other datasets")
    error_kind: str | None = Field(None, description="kind of the first failing hidden test, or passed")
    selected_by: str | None = Field(None, description="search: why this candidate is the answer")
    cluster_size: int | None = Field(None, description="search: candidates behaving like the answer")
    clusters: int | None = Field(None, description="search: behaviour clusters among all candidates drawn so far")
    drawn: list[str] = Field(default_factory=list, description="search: the completions this round drew")
    drawn_passed: int | None = Field(None, description="search: how many of `drawn` pass the hidden tests")
    judge_seconds: float = Field(0.0, description="sandbox seconds spent comparing candidates")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    final: bool = False
    stop_reason: str | None = None
    node: str | None = Field(None, description="--ray: the cluster node that ran the sample (address:node id)")


class SampleResult(BaseModel):
    """One finished sample: every round it reached, why it stopped, and its trace."""

    task_id: str
    sample: int
    rounds: list[RoundRecord]
    stop_reason: str | None = None
    trace: list[TraceEvent] = Field(default_factory=list)
