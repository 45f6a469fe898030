"""The solver's one configuration object."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Policy = Literal["repair", "react"]
FeedbackMode = Literal["visible", "self", "hidden", "none"]
ReactProtocol = Literal["tools", "text"]


class SolverConfig(BaseModel):
    policy: Policy = "repair"
    feedback: FeedbackMode = "visible"
    rounds: int = Field(3, ge=0, description="repair rounds after round 0")
    candidates: int = Field(1, ge=1, le=64, description="samples per round, in one request")
    temperature: float = Field(0.0, ge=0, le=2)
    search_temperature: float = Field(0.8, gt=0, le=2, description="when sampling several or afresh")
    max_tokens: int = Field(512, ge=16, description="per reply; HumanEval solutions need far fewer")
    token_budget: int | None = Field(None, ge=1, description="stop once this many tokens were generated")
    time_budget: float | None = Field(None, gt=0, description="stop after this many seconds")
    timeout: float = Field(3.0, gt=0, description="seconds per test in the sandbox")
    family: str | None = Field(None, description="prompt family; default: from the model name")
    react_protocol: ReactProtocol = Field("tools", description="react: OpenAI tool calls, or a text protocol")
