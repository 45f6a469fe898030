"""A problem's tests are untrusted code too: they run in a sandbox of their own, apart from
the agent and the candidate. A test that hangs, writes files or ends its process fails its
own samples, touches nothing outside, and leaves the other problems' verdicts alone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.integration.hostile_cases import ADD_PROMPT, ADD_TEST, CORRECT

MARKER = Path("/tmp/repair-agent-hostile-test-was-here")
HOSTILE_TESTS = {
    "hangs": "def check(candidate):\n    while True:\n        pass\n",
    "writes_on_the_host": (f"def check(candidate):\n    open({str(MARKER)!r}, 'w').write('x')\n"
                           f"    open({str(Path(__file__).resolve().parent / 'written-by-a-test')!r}, 'w').write('x')\n"
                           "    assert candidate(1, 2) == 3\n"),
    "exits": "def check(candidate):\n    import os\n    os._exit(3)\n",
    # its judge is PID 1 of the sandbox: the kill is refused, and the test goes on (and passes)
    "kills_its_judge": ("def check(candidate):\n    import os, signal\n    for pid in (os.getppid(), 1):\n"
                        "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
                        "    assert candidate(1, 2) == 3\n"),
}


def problems_file(tmp_path: Path) -> Path:
    records = [{"task_id": "add", "prompt": ADD_PROMPT, "entry_point": "add", "test": ADD_TEST}]
    records += [{"task_id": name, "prompt": ADD_PROMPT, "entry_point": "add", "test": test}
                for name, test in HOSTILE_TESTS.items()]
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_hostile_tests_fail_their_own_samples_and_touch_nothing(docker_image, backend, tmp_path):
    MARKER.unlink(missing_ok=True)
    samples = [{"task_id": task, "completion": CORRECT} for task in ["add", *HOSTILE_TESTS, "add"]]
    source = tmp_path / "samples.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in samples))
    target = tmp_path / "results.jsonl"
    started = time.monotonic()
    result = CliRunner().invoke(app, ["check", str(source), "--problems", str(problems_file(tmp_path)),
                                      "--out", str(target), "--sandbox", backend, "--workers", "2"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert elapsed < 120, f"{elapsed:.0f} s"
    results = {(r["task_id"], i): r for i, r in enumerate(json.loads(line) for line in target.read_text().splitlines())}
    outcome = {task: r["result"] for (task, _), r in results.items()}
    assert [r["passed"] for r in results.values()] == [True, False, False, False, True, True], outcome
    assert "did not finish" in outcome["hangs"] and "ended its process" in outcome["exits"], outcome
    assert not MARKER.exists() and not (Path(__file__).resolve().parent / "written-by-a-test").exists()


def test_sigterm_stops_a_check_whose_test_hangs(docker_image, tmp_path):
    samples = [{"task_id": "hangs", "completion": CORRECT}] * 4 + [{"task_id": "add", "completion": CORRECT}] * 4
    source = tmp_path / "samples.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in samples))
    target = tmp_path / "results.jsonl"
    command = [str(Path(sys.executable).with_name("agent")), "check", str(source), "--problems",
               str(problems_file(tmp_path)), "--out", str(target), "--sandbox", "docker", "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = target.with_name(target.name + ".partial")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 3):
        time.sleep(0.2)
    time.sleep(1.0)  # the hanging tests are running now
    process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    output, _ = process.communicate(timeout=60)
    assert time.monotonic() - stopped < 10, "SIGTERM took over 10 s"
    assert process.returncode != 0 and "Traceback" not in output, output
    assert len(journal.read_text().splitlines()) >= 3


def test_sigterm_stops_a_bench_whose_test_hangs(docker_image, tmp_path):
    """The bench judges each sample on the hidden tests: a hanging test holds its own sample
    only, and SIGTERM stops the run within 10 s, keeping what was judged."""
    from tests.unit.scripted_server import ScriptedServer

    prompt = 'def add(a, b):\n    """Adds.\n    >>> add(1, 2)\n    3\n    """\n'
    dataset = tmp_path / "data.jsonl"
    records = [{"task_id": f"t/{i}", "entry_point": "add", "prompt": prompt,
                "test": "def check(c):\n    assert c(2, 2) == 4\n"} for i in range(2)]
    records.append({"task_id": "t/hangs", "entry_point": "add", "prompt": prompt, "test": HOSTILE_TESTS["hangs"]})
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "run"
    with ScriptedServer([], default="```python\ndef add(a, b):\n    return a + b\n```") as server:
        command = [str(Path(sys.executable).with_name("agent")), "bench", "--out", str(out), "--dataset",
                   str(dataset), "--n", "2", "--k", "1", "--rounds", "1", "--sandbox", "docker",
                   "--base-url", server.base_url]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        attempts = out / "attempts.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not attempts.exists() or len(attempts.read_text().splitlines()) < 4):
            time.sleep(0.2)
        time.sleep(1.0)  # the hanging test's samples are being judged now
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        output, _ = process.communicate(timeout=60)
    assert time.monotonic() - stopped < 10, "SIGTERM took over 10 s"
    assert process.returncode != 0 and "Traceback" not in output, output
    kept = [json.loads(line) for line in attempts.read_text().splitlines()]
    assert {r["task_id"] for r in kept} == {"t/0", "t/1"} and all(r["hidden_passed"] for r in kept)
