"""`agent check` keeps what it judged: an oversized program is one failed sample, verdicts
are journalled as they come, a stopped check resumes, and SIGTERM stops a busy check."""

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

ADD = {"task_id": "add", "prompt": ADD_PROMPT, "entry_point": "add", "test": ADD_TEST}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_an_oversized_program_is_one_failed_sample(docker_image, backend, tmp_path):
    # 3 million non-ASCII characters: 6 MB of UTF-8, 18 MB once JSON-escaped
    huge = "    return a + b\n# " + "é" * 3_000_000 + "\n"
    problems = write_jsonl(tmp_path / "problems.jsonl", [ADD])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "add", "completion": huge},
                                                       {"task_id": "add", "completion": CORRECT}])
    target = tmp_path / "results.jsonl"
    result = CliRunner().invoke(app, ["check", str(samples), "--problems", str(problems), "--out", str(target),
                                      "--sandbox", backend, "--workers", "2"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["passed"] for r in results] == [False, True]
    assert results[0]["result"].startswith("failed: program too large")
    assert not (tmp_path / "results.jsonl.partial").exists()


SLOW = "    import time\n    time.sleep(0.4)\n    return a + b\n"


def test_sigterm_stops_a_busy_check_and_resume_finishes_it(docker_image, tmp_path):
    problems = write_jsonl(tmp_path / "problems.jsonl", [ADD])
    samples = [{"task_id": "add", "completion": SLOW if i % 2 else CORRECT, "n": i} for i in range(60)]
    source = write_jsonl(tmp_path / "samples.jsonl", samples)
    target, journal = tmp_path / "results.jsonl", tmp_path / "results.jsonl.partial"
    command = [str(Path(sys.executable).with_name("agent")), "check", str(source), "--problems", str(problems),
               "--out", str(target), "--sandbox", "docker", "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 6):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    output, _ = process.communicate(timeout=60)
    assert time.monotonic() - stopped < 10, "SIGTERM took over 10 s to stop the check"
    assert process.returncode != 0 and "Traceback" not in output, output
    kept = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert 5 <= len(kept) < 60 and not target.exists()
    again = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["n"] for r in results] == list(range(60)) and all(r["passed"] for r in results)
    assert not journal.exists()


def test_a_journal_of_other_samples_is_not_resumed(tmp_path):
    problems = write_jsonl(tmp_path / "problems.jsonl", [ADD])
    source = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "add", "completion": CORRECT}])
    target = tmp_path / "results.jsonl"
    (tmp_path / "results.jsonl.partial").write_text(json.dumps({"samples_sha256": "0" * 64, "samples": 1}) + "\n")
    result = CliRunner().invoke(app, ["check", str(source), "--problems", str(problems), "--out", str(target),
                                      "--resume"])
    assert result.exit_code == 2 and "other samples" in result.output, result.output
