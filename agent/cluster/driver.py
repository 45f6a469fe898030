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


def _first_line(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


class RayBench:
    REFRESH = 1.0  # seconds between looks at the cluster's nodes

    def __init__(self, config: BenchConfig, problems: list[Problem], services: NodeServices, run_dir: RunDir,
                 samples_per_node: int, concurrency: int, on_progress: Callable[[BenchProgress], None],
                 say: Callable[[str], None]) -> None:
        self.config, self.problems, self.services, self.run_dir = config, problems, services, run_dir
        self.samples_per_node, self.concurrency = samples_per_node, concurrency
        self.on_progress, self.say = on_progress, say
        self.nodes: dict[str, Node] = {}
        self.starting: dict[Any, str] = {}  # start() reference -> node id
        self.unfit: dict[str, str] = {}  # node id -> why it cannot run the sandbox
        self.gate: Any = None

    def run(self) -> BenchProgress:
        n = self.config.n
        todo, finished, progress = pending_work(self.run_dir, self.problems, n, self.config.rounds)
        queue: deque[tuple[Problem, list[int]]] = deque(todo)
        in_flight: dict[Any, tuple[str, Problem, list[int]]] = {}
        started, failure = time.time(), None
        self.on_progress(progress)
        self.gate = EndpointGate.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=True)).remote(len(self.services.client.base_urls),
                                                                       self.concurrency)
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
                    node_id, problem, samples = in_flight.pop(ref)
                    if node_id in self.nodes:
                        self.nodes[node_id].busy -= len(samples)
                    try:
                        results: list[FinishedSample] = ray.get(ref)
                    except LOST as exc:
                        queue.appendleft((problem, samples))
                        self._drop(node_id, f"lost ({type(exc).__name__}); its {len(samples)} samples run again")
                        continue
                    except RayTaskError as exc:
                        raise BenchStopped(_first_line(exc)) from None
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
            self.nodes[node_id] = Node(id=node_id, handle=handle, asked=time.monotonic())
            self.starting[handle.start.remote()] = node_id

    def _collect_starts(self) -> None:
        if self.starting:
            done, _ = ray.wait(list(self.starting), num_returns=len(self.starting), timeout=0)
            for ref in done:
                node_id = self.starting.pop(ref)
                try:
                    name = ray.get(ref)
                except RayTaskError as exc:
                    self.unfit[node_id] = _first_line(exc)
                    self._drop(node_id, f"cannot run the sandbox: {self.unfit[node_id]}")
                    continue
                except LOST:
                    self._drop(node_id, "was lost while starting")
                    continue
                if node_id in self.nodes:
                    self.nodes[node_id].name, self.nodes[node_id].ready = name, True
                    self.say(f"node {name} takes work (ready in {time.monotonic() - self.nodes[node_id].asked:.1f} s)")
        if not any(node.ready for node in self.nodes.values()) and not self.starting and self.unfit:
            reasons = "; ".join(f"{node_id[:8]}: {why}" for node_id, why in self.unfit.items())
            raise ClusterUnfit(f"no node of the Ray cluster can run the sandbox ({reasons})")

    def _assign(self, queue: deque, in_flight: dict) -> None:
        for node in sorted((x for x in self.nodes.values() if x.ready), key=lambda x: x.busy):
            while queue and node.busy < self.samples_per_node:
                problem, samples = queue.popleft()
                in_flight[node.handle.run.remote(problem, samples)] = (node.id, problem, samples)
                node.busy += len(samples)

    def _drop(self, node_id: str, why: str) -> None:
        node = self.nodes.pop(node_id, None)
        if node is None:
            return
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
