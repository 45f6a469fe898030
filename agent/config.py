"""The solver's one configuration object."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Policy = Literal["repair", "react", "search"]
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
    react_protocol: ReactProtocol = Field("text", description="react: a text protocol with the code in a fenced "
                                                                 "block (default: this model's code survives it), "
                                                                 "or OpenAI tool calls")
    react_constrained: bool = Field(True, description="react, text protocol: the server constrains each reply to "
                                                      "the protocol's form (vLLM structured outputs, a grammar)")
    inputs: int = Field(16, ge=0, le=64, description="search: made-up inputs per problem (the examples' mutations)")
    propose_tests: bool = Field(True, description="search: ask the model once for tests; their inputs judge, their "
                                                  "claimed outputs are votes")
    consensus_margin: int = Field(2, ge=1, description="search: stop once the leading cluster passes the examples and "
                                                       "has this many members more than the next")
    input_timeout: float = Field(1.0, gt=0, description="search: seconds per input when comparing candidates")

    @model_validator(mode="after")
    def _search_is_honest(self) -> "SolverConfig":
        if self.policy == "search" and self.feedback == "hidden":
            raise ValueError("the search policy judges with the prompt's examples and inputs it makes up; "
                             "hidden-test feedback is for the repair policy")
        return self
