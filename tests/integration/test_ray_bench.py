"""`agent bench --ray` on a two-node Ray cluster on this machine (`ray.cluster_utils.Cluster`:
a head and a worker, each a raylet of its own), the real Docker sandbox on every node, and
a scripted model served over HTTP (this tests the cluster's logic, not the model; the e2e
test runs the real one). Nodes are killed and added while the bench runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from tests.unit.scripted_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(400)  # a hung cluster fails the test, not the whole suite


@pytest.fixture
def model():
    with ScriptedServer([], delay=0.4) as server:  # every reply: code that fails, 0.4 s each
        yield server


def start_cluster(nodes: int) -> tuple[Cluster, list]:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(nodes - 1)]
    cluster.wait_for_nodes()
    return cluster, workers


def bench(tmp_path: Path, address: str, base_url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "bench", "--out", str(tmp_path / "run"), "--ray", address, "--base-url",
         base_url, "--limit", "12", "--n", "2", "--k", "1", "--rounds", "1", "--sandbox", "docker", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def attempts(tmp_path: Path) -> list[dict]:
    path = tmp_path / "run" / "attempts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_until(predicate, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.2)


def finished(process: subprocess.Popen, timeout: float = 300.0) -> str:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return err


def assert_complete_once(lines: list[dict], samples: int) -> None:
    keys = Counter((line["task_id"], line["sample"], line["round"]) for line in lines)
    assert max(keys.values()) == 1, "a round was written twice"
    finals = [line for line in lines if line["final"]]
    assert len({(line["task_id"], line["sample"]) for line in finals}) == len(finals) == samples


def test_a_worker_node_killed_mid_run_costs_only_its_samples(tmp_path, model):
    cluster, (worker,) = start_cluster(2)
    try:
        process = bench(tmp_path, cluster.address, model.base_url, "--ray-samples-per-node", "4")
        wait_until(lambda: any(line["node"].endswith(worker.node_id[:8]) for line in attempts(tmp_path)), process)
        cluster.remove_node(worker, allow_graceful=False)  # its raylet and workers killed
        err = finished(process)
    finally:
        cluster.shutdown()
    lines = attempts(tmp_path)
    assert_complete_once(lines, 24)
    nodes = {line["node"] for line in lines}
    assert len(nodes) == 2 and any(n.endswith(worker.node_id[:8]) for n in nodes)
    assert "lost" in err or "left the cluster" in err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["complete"] and summary["samples"] == 24


def test_a_node_that_joins_mid_run_takes_work(tmp_path, model):
    cluster, _ = start_cluster(1)
    try:
        process = bench(tmp_path, cluster.address, model.base_url, "--ray-samples-per-node", "2")
        wait_until(lambda: len(attempts(tmp_path)) > 0, process)
        joined = cluster.add_node(num_cpus=1)
        finished(process)
    finally:
        cluster.shutdown()
    lines = attempts(tmp_path)
    assert_complete_once(lines, 24)
    assert any(line["node"].endswith(joined.node_id[:8]) for line in lines), "the new node ran nothing"


def test_the_driver_killed_outright_resumes_without_losing_or_duplicating(tmp_path, model):
    cluster, _ = start_cluster(2)
    try:
        process = bench(tmp_path, cluster.address, model.base_url, "--ray-samples-per-node", "2")
        wait_until(lambda: len(attempts(tmp_path)) >= 4, process)
        process.kill()  # SIGKILL: no clean-up of any kind
        process.wait()
        assert len({(x["task_id"], x["sample"]) for x in attempts(tmp_path) if x["final"]}) < 24
        err = finished(bench(tmp_path, cluster.address, model.base_url))
    finally:
        cluster.shutdown()
    assert "resuming the run" in err
    assert_complete_once(attempts(tmp_path), 24)


def test_a_ray_run_writes_what_a_local_run_writes(tmp_path, model):
    """The same model (scripted: the same reply every time) and the same problems: the
    Ray run's records hold the same content as the local run's, in the same format, and
    either command resumes the other's run directory."""
    from eval.run_dir import RunDir

    cluster, _ = start_cluster(2)
    try:
        finished(bench(tmp_path, cluster.address, model.base_url, "--limit", "3"))
    finally:
        cluster.shutdown()
    local = tmp_path / "local"
    command = [sys.executable, "-m", "agent", "bench", "--base-url", model.base_url, "--limit", "3", "--n", "2",
               "--k", "1", "--rounds", "1", "--sandbox", "docker"]
    done = subprocess.run([*command, "--out", str(local)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    def content(folder):
        return sorted((x.task_id, x.sample, x.round, x.action, x.completion, x.feedback_passed, x.hidden_passed,
                       x.hidden_result, x.final) for x in RunDir(folder).load_attempts(repair=False))

    ray_lines = RunDir(tmp_path / "run").load_attempts(repair=False)
    assert content(tmp_path / "run") == content(local) and len({(x.task_id, x.sample) for x in ray_lines}) == 6
    assert all(x.node for x in ray_lines) and not any(x.node for x in RunDir(local).load_attempts(repair=False))
    resumed = subprocess.run([*command, "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0 and "resuming the run" in resumed.stderr  # the same experiment, nothing left


def test_an_unreachable_cluster_is_one_sentence(tmp_path, model):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "agent", "bench", "--out", str(tmp_path / "run"), "--ray",
                           "127.0.0.1:9", "--base-url", model.base_url, "--limit", "1", "--n", "1", "--k", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "cannot be reached" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and time.monotonic() - started < 60


def test_a_cluster_with_no_node_able_to_run_the_sandbox_is_one_sentence(tmp_path, model):
    saved = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # the nodes' processes inherit it
    try:
        cluster, _ = start_cluster(2)
    finally:
        os.environ.pop("DOCKER_HOST") if saved is None else os.environ.__setitem__("DOCKER_HOST", saved)
    try:
        done = subprocess.run([sys.executable, "-m", "agent", "bench", "--out", str(tmp_path / "run"), "--ray",
                               cluster.address, "--base-url", model.base_url, "--limit", "1", "--n", "1", "--k", "1",
                               "--sandbox", "docker"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        cluster.shutdown()
    assert done.returncode == 2 and "no node of the Ray cluster can run the sandbox" in done.stderr
    assert "Traceback" not in done.stderr
