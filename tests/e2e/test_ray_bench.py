"""`agent bench --ray` with the real model: 12 HumanEval problems x 2 samples on a two-node
Ray cluster on this machine, the worker node's raylet killed after its first attempts
land. The run ends complete: every sample once, both nodes named, summary.json written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ray.cluster_utils import Cluster

from tests.integration.test_ray_bench import ROOT, assert_complete_once, attempts, finished, wait_until


@pytest.mark.timeout(1500)
def test_a_ray_bench_survives_its_worker_node_killed(tmp_path, base_url):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "bench", "--out", str(tmp_path / "run"), "--ray", cluster.address,
             "--base-url", base_url, "--limit", "12", "--n", "2", "--k", "1,2", "--rounds", "1", "--max-tokens",
             "300", "--concurrency", "16", "--ray-samples-per-node", "8"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: any(line["node"].endswith(worker.node_id[:8]) for line in attempts(tmp_path)), process,
                   timeout=600)
        cluster.remove_node(worker, allow_graceful=False)
        finished(process, timeout=900)
    finally:
        cluster.shutdown()
    lines = attempts(tmp_path)
    assert_complete_once(lines, 24)
    assert len({line["node"] for line in lines}) == 2
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["complete"] and summary["samples"] == 24 and summary["problems"] == 12
