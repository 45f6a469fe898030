"""The LangGraph controller: one typed state, small nodes that return updates, pure
routers, explicit path maps. Every graph is `START -> prepare -> (the policy's nodes) ->
finish -> END`; the policy (`agent.policies`) supplies `prepare` and its own nodes. The
problem, model, sandbox, tracer and configuration come as run-time context, so a solver
compiles its graph once and runs it for every sample."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agent.config import SolverConfig
from agent.context import RunContext
from agent.policies import policy_named
from agent.policies.base import finish
from agent.state import AgentState


def build_graph(policy: str):
    """The compiled graph for the policy called `policy`; its shape is snapshot-tested."""
    chosen = policy_named(policy)
    graph = StateGraph(AgentState, context_schema=RunContext)
    graph.add_node("prepare", chosen.prepare)
    graph.add_node("finish", finish)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", chosen.build(graph))
    graph.add_edge("finish", END)
    return graph.compile()


def recursion_limit(config: SolverConfig) -> int:
    """LangGraph's step limit for one run: prepare and finish, and the policy's steps per
    round for every round; with room to spare."""
    return 2 + policy_named(config.policy).nodes_per_round * (config.rounds + 1) + 5
