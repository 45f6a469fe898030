"""Choosing among candidates without hidden tests: behaviour clusters on the problem's
inputs, the docstring's examples as a veto, agreement among the rest as the decision.

Candidates whose outcomes (value digests, exception types, aborts) are equal on every
kept input form a cluster. The clusters that pass the most examples survive (all of them
when there are no examples). Among survivors the score is the cluster's support (each
candidate drawn counts for the share of inputs on which it behaves like the cluster: near
misses that differ only on an odd input still vote) times one plus the model's claimed
outputs the cluster agrees with (CodeT's dual agreement; the claims are votes, never a
verdict). The representative of the best cluster is the answer.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.inputs import TestInput
from sandbox.verdict import Verdict

ABORTS = ("timeout", "crash", "invalid_value", "sandbox")


class Behaviour(BaseModel):
    """One candidate's outcomes on the problem's inputs, in the inputs' order."""

    outcomes: list[str]
    passed: list[bool] = Field(description="each input's test passed (an assert held, a plain call returned)")
    shown: list[str | None] = Field(default_factory=list, description="what the candidate returned, for the model")


def behaviour_of(verdict: Verdict) -> Behaviour:
    return Behaviour(outcomes=[t.observed or t.kind for t in verdict.tests], passed=[t.passed for t in verdict.tests],
                     shown=[t.got if t.got is not None else t.exception or t.kind for t in verdict.tests])


def failed(outcome: str) -> bool:
    return outcome.startswith("!") or outcome.startswith("load ") or outcome in ABORTS


class Cluster(BaseModel):
    members: list[int] = Field(description="indices of the candidates, in the order they were drawn")
    examples_passed: int
    examples_total: int
    agreed: int = Field(description="model-claimed outputs the cluster reproduces")
    support: float = Field(description="candidates behaving like it, each weighted by the share of inputs it agrees on")
    score: float
    survives: bool
    broken: bool = Field(description="fails on every kept input (does not load, or always raises)")

    @property
    def size(self) -> int:
        return len(self.members)


class Selection(BaseModel):
    chosen: int = Field(description="the representative: the chosen cluster's first member")
    clusters: list[Cluster] = Field(description="best first")
    kept_inputs: list[int] = Field(description="inputs on which some candidate does not fail")
    reason: str
    dominant: bool = Field(description="the leading cluster leads clearly: more samples would not change the answer")
    counterexample: int | None = Field(None, description="an input where the leader and the runner-up differ")

    @property
    def leader(self) -> Cluster:
        return self.clusters[0]


def select(inputs: list[TestInput], behaviours: list[Behaviour], margin: int = 2, prior: int | None = None
           ) -> Selection:
    """The answer among `behaviours` (one per candidate, same inputs), and why. Without
    examples, the cluster of candidate `prior` (the greedy answer) stays the leader unless
    another has `margin` members more."""
    examples = [i for i, test in enumerate(inputs) if test.source == "example"]
    claims = [i for i, test in enumerate(inputs) if test.claimed is not None]
    kept = [i for i in range(len(inputs)) if any(not failed(b.outcomes[i]) for b in behaviours)]
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, behaviour in enumerate(behaviours):
        groups.setdefault(tuple(behaviour.outcomes[i] for i in kept), []).append(index)
    clusters = []
    for signature, members in groups.items():
        first = behaviours[members[0]]
        support = sum(_agreement(signature, tuple(b.outcomes[i] for i in kept)) for b in behaviours)
        clusters.append(Cluster(
            members=members, examples_passed=sum(first.passed[i] for i in examples), examples_total=len(examples),
            agreed=sum(first.passed[i] for i in claims), support=round(support, 4), score=0.0, survives=False,
            broken=all(failed(o) for o in signature)))
    best_examples = max((c.examples_passed for c in clusters if not c.broken), default=0)
    any_sound = any(not c.broken for c in clusters)
    for cluster in clusters:
        cluster.survives = cluster.examples_passed == best_examples and not (cluster.broken and any_sound)
        cluster.score = round(cluster.support * (1 + cluster.agreed), 4) if cluster.survives else 0.0
    clusters.sort(key=lambda c: (c.survives, c.score, c.size, -c.members[0]), reverse=True)
    kept_prior = False
    if prior is not None and not examples:
        held = next(c for c in clusters if prior in c.members)
        if held.survives and held is not clusters[0] and clusters[0].size - held.size < margin:
            clusters.remove(held)
            clusters.insert(0, held)
            kept_prior = True
    leader = clusters[0]
    survivors = [c for c in clusters if c.survives]
    runner_up = max((c.size for c in survivors[1:]), default=0) if kept_prior else \
        (survivors[1].size if len(survivors) > 1 else 0)
    passes_examples = not examples or leader.examples_passed == len(examples)
    if kept_prior:
        reason = "the greedy answer (no examples; no cluster leads it by the margin)"
    elif not examples:
        reason = "agreement (no examples)"
    elif passes_examples:
        reason = "examples, then agreement" if len(survivors) > 1 else "examples"
    else:
        reason = f"agreement among those passing {best_examples} of {len(examples)} examples"
    return Selection(chosen=leader.members[0], clusters=clusters, kept_inputs=kept, reason=reason,
                     dominant=passes_examples and leader.size - runner_up >= margin,
                     counterexample=_counterexample(inputs, behaviours, clusters, kept))


def _agreement(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    return 1.0 if not a else sum(x == y for x, y in zip(a, b)) / len(a)


def _counterexample(inputs: list[TestInput], behaviours: list[Behaviour], clusters: list[Cluster],
                    kept: list[int]) -> int | None:
    """A kept input on which the leader and the next cluster that is not broken differ,
    made-up inputs before the examples (an example failure is shown anyway)."""
    if len(clusters) < 2:
        return None
    leader = behaviours[clusters[0].members[0]]
    other = next((c for c in clusters[1:] if not c.broken), None)
    if other is None:
        return None
    rival = behaviours[other.members[0]]
    differing = [i for i in kept if leader.outcomes[i] != rival.outcomes[i]]
    differing.sort(key=lambda i: inputs[i].source == "example")
    return differing[0] if differing else None
