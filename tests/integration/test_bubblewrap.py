"""The bubblewrap sandbox: the executor is PID 1 of its namespace (no bubblewrap init to
take over), seccomp denies ptrace and process_vm_writev, and no process of a sandbox
outlives it on the host, whatever its candidates did."""

from __future__ import annotations

import os
import time

from eval.problems import Problem, hidden_job
from sandbox import SandboxConfig
from sandbox.sandbox import open_sandbox
from tests.integration.hostile_cases import ADD_PROMPT, ADD_TEST

ADD = Problem(prompt=ADD_PROMPT, entry_point="add", test=ADD_TEST, task_id="add")
SEIZE_PID_1 = """    import ctypes, os, time
    libc = ctypes.CDLL(None, use_errno=True)
    seized = libc.ptrace(0x4206, 1, 0, 0)  # PTRACE_SEIZE
    print('seize', seized, ctypes.get_errno())
    local = (ctypes.c_char * 8)()
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8)
    written = libc.process_vm_writev(1, iov, 1, iov, 1, 0)
    print('writev', written, ctypes.get_errno())
    child = os.fork()
    if child == 0:
        import time
        libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: the executor's own setting is inherited
        time.sleep(5)
        os._exit(0)
    # its own child, same user and dumpable: only the seccomp filter refuses this one
    time.sleep(0.2)
    attached = libc.ptrace(0x4206, child, 0, 0)
    print('child', attached, ctypes.get_errno())
    os.kill(child, 9)
    os.waitpid(child, 0)
    return a + b
"""
PID_ONE = """    import os
    with open('/proc/1/stat') as handle:
        stat = handle.read()
    print('pid1', stat.split(')')[0].split('(')[1], len(os.listdir('/proc/1/task')), os.getpid() != 1)
    return a + b
"""
# Starts a detached process, then tries to stop its executor (PID 1) and its parent.
STOP_THE_EXECUTOR = """    import os, signal, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(3600)
        os._exit(0)
    for pid in (1, os.getppid()):
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
    time.sleep(30)
    return a + b
"""


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, start time in clock ticks, command line) for every host process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        found[int(entry)] = (int(fields[1]), int(fields[19]), command)
    return found


def sandbox_processes(since: int) -> list[str]:
    """Processes of a bubblewrap sandbox (bwrap itself, or an executor) that this test left:
    descendants of this process, or orphans (adopted by the host's init) started since
    `since`. Other tests' pools, and Docker's containers, are neither."""
    table = _processes()

    def descends(pid: int) -> bool:
        for _ in range(64):
            parent = table.get(pid, (0,))[0]
            if parent == os.getpid():
                return True
            if parent <= 1:
                return False
            pid = parent
        return False

    left = []
    for pid, (parent, started, command) in table.items():
        if not ("bwrap" in command.split(" ")[0] or "/usr/lib/repair-agent/executor.py" in command):
            continue
        if descends(pid) or (parent == 1 and started >= since):
            left.append(f"{pid}: {command[:80]}")
    return left


def now_ticks() -> int:
    """The time since boot in clock ticks, as /proc/PID/stat counts a process's start."""
    with open("/proc/uptime") as handle:
        return int(float(handle.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def test_pid_1_is_the_executor_and_cannot_be_seized(docker_image):
    config = SandboxConfig(backend="process", workers=1, spares=0)
    with open_sandbox(config, say=lambda m: None) as box:
        attack = box.run(hidden_job(ADD, SEIZE_PID_1))
        after = box.run(hidden_job(Problem(**{**ADD.model_dump(), "task_id": "again",
                                              "test": ADD_TEST + "    assert candidate(0, 0) == 0\n"}), PID_ONE))
        recycled = box.pool.recycled
    assert attack.passed and after.passed, (attack.result, after.result)
    seize, writev, child = (line.split() for line in attack.output.splitlines()[:3])
    assert seize[1] == "-1" and seize[2] == str(1), attack.output  # EPERM
    assert writev[1] == "-1" and writev[2] == str(1), attack.output
    assert child[1] == "-1" and child[2] == str(1), attack.output  # EPERM from seccomp alone
    name, threads, not_pid_1 = after.output.split()[1:4]
    assert name.startswith("python") and threads == "1" and not_pid_1 == "True", after.output
    assert recycled == 0


def test_no_sandbox_process_outlives_the_check(docker_image):
    since = now_ticks()
    config = SandboxConfig(backend="process", workers=2, spares=0)
    with open_sandbox(config, say=lambda m: None) as box:
        verdicts = [box.run(hidden_job(ADD, STOP_THE_EXECUTOR, timeout=1.0)) for _ in range(3)]
        assert all(v.result == "timed out" for v in verdicts), [v.result for v in verdicts]
        correct = box.run(hidden_job(ADD, "    return a + b\n"))
        assert correct.passed, correct.result
    deadline = time.monotonic() + 10
    while sandbox_processes(since) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sandbox_processes(since), sandbox_processes(since)


def test_without_the_filter_a_candidate_may_trace_its_own_child(docker_image):
    """Positive control: in the unshared process (no seccomp filter) the same seize of its own
    child succeeds, so the refusal above is the filter's."""
    from sandbox.process_backend import UnsharedProcessBackend
    from sandbox.sandbox import PooledSandbox

    config = SandboxConfig(backend="process", workers=1, spares=0, allow_weak_isolation=True)
    with PooledSandbox(UnsharedProcessBackend(config), config.pool_size) as box:
        attack = box.run(hidden_job(ADD, SEIZE_PID_1))
    child = attack.output.splitlines()[2].split()
    assert attack.passed and child[1] == "0", attack.output
