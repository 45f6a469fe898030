"""The driver of a bench on a Ray cluster: it places one actor on each node that can run
the sandbox (and on each node that joins), sends each a bounded number of samples, and
writes every finished sample to the run directory itself. Work lost with a node (its
actor dead, its raylet killed) goes back to the queue and runs on the nodes left; a
sample is written once, when its results reach the driver."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, NodeDiedError, ObjectLostError, \
    OwnerDiedError, RayActorError, RayTaskError, WorkerCrashedError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from agent.cluster.gate import EndpointGate
from agent.cluster.worker import FinishedSample, NodeServices, NodeWorker
from eval.bench import BenchConfig, BenchProgress, BenchStopped, pending_work, record_session
from eval.problems import Problem
from eval.run_dir import RunDir

LOST = (RayActorError, ActorUnavailableError, NodeDiedError, ObjectLostError, OwnerDiedError, WorkerCrashedError)
"""What a node that went away raises: its work runs again elsewhere."""


class ClusterUnfit(RuntimeError):
    """No node of the cluster can run the work; one sentence."""


@dataclass
class Node:
    id: str
    handle: Any
    name: str = ""
    ready: bool = False
    busy: int = 0  # samples in flight
    asked: float = 0.0  # when its actor was asked to start (monotonic)


def head_node() -> str:
    """The head's node id: the gate lives there, as the cluster does (a worker may go)."""
    for node in ray.nodes():
        if node.get("Alive") and "node:__internal_head__" in node.get("Resources", {}):
            return node["NodeID"]
    return ray.get_runtime_context().get_node_id()


def _first_line(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


class RayBench:
    REFRESH = 1.0  # seconds between looks at the cluster's nodes
    MAX_LOSSES = 5  # a problem's samples lost with their node more often than this stop the run

    def __init__(self, config: BenchConfig, problems: list[Problem], services: NodeServices, run_dir: RunDir,
                 samples_per_node: int, concurrency: int, on_progress: Callable[[BenchProgress], None],
                 say: Callable[[str], None]) -> None:
        self.config, self.problems, self.services, self.run_dir = config, problems, services, run_dir
        self.samples_per_node, self.concurrency = samples_per_node, concurrency
        self.on_progress, self.say = on_progress, say
        self.nodes: dict[str, Node] = {}
        self.starting: dict[Any, Node] = {}  # start() reference -> the node (actor) it starts
        self.unfit: dict[str, str] = {}  # node id -> why it cannot run the sandbox
        self.gate: Any = None

    def run(self) -> BenchProgress:
        n = self.config.n
        todo, finished, progress = pending_work(self.run_dir, self.problems, n, self.config.rounds)
        queue: deque[tuple[Problem, list[int]]] = deque(todo)
        in_flight: dict[Any, tuple[Node, Problem, list[int]]] = {}
        losses: dict[str, int] = {}  # task id -> times its samples were lost with a node
        started, failure = time.time(), None
        self.on_progress(progress)
        self.gate = EndpointGate.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            head_node(), soft=False)).remote(len(self.services.client.base_urls), self.concurrency)
        try:
            looked = 0.0
            while queue or in_flight:
                if time.monotonic() - looked > self.REFRESH:
                    self._look_at_nodes()
                    looked = time.monotonic()
                self._collect_starts()
                self._assign(queue, in_flight)
                if not in_flight:
                    time.sleep(0.1)
                    continue
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.25)
                for ref in done:
                    node, problem, samples = in_flight.pop(ref)
                    node.busy -= len(samples)
                    try:
                        results: list[FinishedSample] = ray.get(ref)
                    except RayTaskError as exc:  # raised inside the actor (a model server gone): no node's loss
                        raise BenchStopped(_first_line(exc)) from None
                    except LOST as exc:
                        losses[problem.task_id] = losses.get(problem.task_id, 0) + 1
                        if losses[problem.task_id] > self.MAX_LOSSES:
                            raise BenchStopped(f"the samples of {problem.task_id} were lost with their node "
                                               f"{self.MAX_LOSSES} times") from None
                        queue.appendleft((problem, samples))
                        # only the actor that ran it: a node's later actor is not dropped for an earlier one's loss
                        self._drop(node.id, f"lost ({type(exc).__name__}); its {len(samples)} samples run again",
                                   node)
                        continue
                    for result in results:
                        self.run_dir.append_sample(result.lines, result.trace)
                        progress.count(result.lines, finished, n)
                    self.on_progress(progress)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            record_session(self.run_dir, started, progress, failure)
            self._release()
        return progress

    # ------------------------------------------------------------------ nodes
    def _look_at_nodes(self) -> None:
        alive = {node["NodeID"] for node in ray.nodes() if node.get("Alive")}
        for node_id in list(self.nodes):
            if node_id not in alive:
                self._drop(node_id, "left the cluster")
        for node_id in alive - set(self.nodes) - set(self.unfit):
            handle = NodeWorker.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)
                                        ).remote(self.services, self.gate)
            node = self.nodes[node_id] = Node(id=node_id, handle=handle, asked=time.monotonic())
            self.starting[handle.start.remote()] = node

    def _collect_starts(self) -> None:
        if self.starting:
            done, _ = ray.wait(list(self.starting), num_returns=len(self.starting), timeout=0)
            for ref in done:
                node = self.starting.pop(ref)
                try:
                    name = ray.get(ref)
                except RayTaskError as exc:
                    self.unfit[node.id] = _first_line(exc)
                    self._drop(node.id, f"cannot run the sandbox: {self.unfit[node.id]}", node)
                    continue
                except LOST:
                    self._drop(node.id, "was lost while starting", node)
                    continue
                if self.nodes.get(node.id) is node:
                    node.name, node.ready = name, True
                    self.say(f"node {name} takes work (ready in {time.monotonic() - node.asked:.1f} s)")
        if not any(node.ready for node in self.nodes.values()) and not self.starting and self.unfit:
            reasons = "; ".join(f"{node_id[:8]}: {why}" for node_id, why in self.unfit.items())
            raise ClusterUnfit(f"no node of the Ray cluster can run the sandbox ({reasons})")

    def _assign(self, queue: deque, in_flight: dict) -> None:
        for node in sorted((x for x in self.nodes.values() if x.ready), key=lambda x: x.busy):
            while queue and node.busy < self.samples_per_node:
                problem, samples = queue.popleft()
                in_flight[node.handle.run.remote(problem, samples)] = (node, problem, samples)
                node.busy += len(samples)

    def _drop(self, node_id: str, why: str, only: Node | None = None) -> None:
        """Forgets the node's actor (and kills it); with `only`, just if that is still its actor."""
        node = self.nodes.get(node_id)
        if node is None or (only is not None and node is not only):
            return
        del self.nodes[node_id]
        if node.ready:
            self.say(f"node {node.name} {why}")
        self.gate.drop.remote(node.name.split(" ")[0])
        ray.kill(node.handle, no_restart=True)

    def _release(self) -> None:
        """Closes each node's sandbox pool (its containers), then ends the actors."""
        stops = {node.handle.stop.remote(): node for node in self.nodes.values() if node.ready}
        try:
            ray.wait(list(stops), num_returns=len(stops), timeout=30)
        except (GetTimeoutError, *LOST):
            pass
        for node in self.nodes.values():
            ray.kill(node.handle, no_restart=True)
        if self.gate is not None:
            ray.kill(self.gate, no_restart=True)
