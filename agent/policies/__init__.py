"""The agent's policies, one module each, behind the `Policy` protocol.

The registry names each policy's module; the module is imported only when the policy is
used, so the configuration and the command line can list the names without loading the
graph code. Adding a policy: one new module that defines `POLICY`, and one entry here.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.policies.base import Policy

REGISTRY: dict[str, str] = {
    "repair": "agent.policies.repair",
    "search": "agent.policies.search",
    "react": "agent.policies.react",
    "best-of-n": "agent.policies.best_of_n",
}


@cache
def policy_named(name: str) -> "Policy":
    """The registered policy called `name` (KeyError for an unknown one)."""
    return importlib.import_module(REGISTRY[name]).POLICY
