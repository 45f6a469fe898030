"""The solver's one configuration object. Its fields are also the command line's solver
options (`agent solve` and `agent bench` make one flag per field, help from the field's
description), and each policy declares which of them it reads."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

import prompts
from agent.policies import REGISTRY

Policy = Literal[tuple(REGISTRY)]  # type: ignore[valid-type]
FeedbackMode = Literal["visible", "self", "hidden", "none"]
ReactProtocol = Literal["tools", "text"]
Family = Literal[prompts.FAMILIES]  # type: ignore[valid-type]


class SolverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: Policy = Field("repair", description="repair, search (samples in batches, chosen by behaviour on the "
                                                  "examples and made-up inputs), react, or best-of-n (the "
                                                  "sample passing most examples); README: Policies")
    feedback: FeedbackMode = Field("visible", description="repair, react: the tests a candidate is judged and "
                                                          "repaired with: visible (the prompt's examples), self "
                                                          "(the model's own), hidden (oracle), none")
    rounds: int = Field(3, ge=0, description="rounds after round 0 (repair: repairs; react: steps after the first; "
                                             "search, best-of-n: batches after the first)")
    candidates: int = Field(1, ge=1, le=64, description="candidates per round, in one request (search, best-of-n: "
                                                        "the batch size)")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")
    search_temperature: float = Field(0.8, gt=0, le=2, description="temperature when sampling several or afresh")
    max_tokens: int = Field(512, ge=16, description="tokens per model reply")
    token_budget: Optional[int] = Field(None, ge=1, description="stop a sample once it generated this many tokens")
    time_budget: Optional[float] = Field(None, gt=0, description="stop a sample after this many seconds")
    timeout: float = Field(3.0, gt=0, description="seconds per test in the sandbox (the hidden judging's too)")
    family: Optional[Family] = Field(None, description="prompt family; default: from the model name")
    react_protocol: ReactProtocol = Field("text", description="react: a text protocol (Thought, Action, the code "
                                                              "in a fenced block) or OpenAI tool calls")
    react_constrained: bool = Field(True, description="react, text protocol: the server constrains each reply to "
                                                      "the protocol's form (vLLM structured outputs)")
    inputs: int = Field(16, ge=0, le=64, description="search: made-up inputs per problem (mutations of the "
                                                     "examples)")
    propose_tests: bool = Field(True, description="search: ask the model once for tests (their inputs judge, their "
                                                  "claimed outputs are only votes)")
    consensus_margin: int = Field(2, ge=1, description="search: stop once the leading cluster passes the examples "
                                                       "and has this many members more than the next")
    input_timeout: float = Field(1.0, gt=0, description="search: seconds per input when comparing candidates")
    greedy_first: bool = Field(False, description="search: the first batch also holds the greedy answer "
                                                  "(temperature 0), first in the pool, so it wins ties")
    greedy_prior: bool = Field(False, description="search with --greedy-first, no examples: the greedy answer's "
                                                  "cluster stays the answer unless another has --consensus-margin "
                                                  "more members")
    blind_temperature: float = Field(0.4, gt=0, le=2, description="search: the sampling temperature when the "
                                                                  "prompt shows no example: without their veto, "
                                                                  "agreement alone chooses, and it is surer among "
                                                                  "samples nearer the model's best")
    prefill: bool = Field(True, description="search: begin each answer with the prompt's code and each test "
                                            "proposal with `assert`, so the model writes only what is new "
                                            "(vLLM's continue_final_message; off for servers without it)")

    @model_validator(mode="after")
    def _oracle_needs_feedback(self) -> "SolverConfig":
        from agent.policies import policy_named

        if self.feedback == "hidden" and "feedback" not in policy_named(self.policy).reads:
            raise ValueError(f"the {self.policy} policy judges without feedback tests; hidden-test feedback "
                             "(the oracle mode) is for the repair and react policies")
        if self.greedy_prior and not self.greedy_first:
            raise ValueError("--greedy-prior needs --greedy-first (the greedy answer must be in the pool)")
        return self


class SolverDescription(SolverConfig):
    """What decides a solver's answers, as a bench run records it: the configuration, the
    model and the prompt family in force. Lenient on reading: a run recorded by an older
    version may hold fields since removed."""

    model_config = ConfigDict(extra="allow")

    model: str = ""
    prefill: bool = Field(False, description="runs recorded before the option existed did not prefill")
    blind_temperature: Optional[float] = Field(None, description="runs recorded before the option existed "
                                                                 "sampled at the search temperature throughout")


def options_read(config_policy: str) -> frozenset[str]:
    """The solver options the policy called `config_policy` reads, its own and the common ones."""
    from agent.policies import policy_named
    from agent.policies.base import COMMON_OPTIONS

    return policy_named(config_policy).reads | COMMON_OPTIONS


def ignored_options(config_policy: str, given: set[str]) -> list[str]:
    """The options in `given` that the policy called `config_policy` does not read."""
    return sorted(given - options_read(config_policy))
