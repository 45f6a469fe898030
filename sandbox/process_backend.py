"""The executor as a local process, for machines with no Docker engine.

`BubblewrapBackend` (the default fallback) runs each executor under bubblewrap (`bwrap`,
the unprivileged sandbox Flatpak uses): the sandbox's own minimal root file system
(`sandbox/rootfs.py`) read-only, a private size-limited tmpfs scratch, and new user,
PID, IPC, network, UTS and cgroup namespaces; no capabilities, no further user
namespaces, an empty environment, a new session, rlimits for
memory and processes; it ends with the command that started it. As root it runs as the unprivileged user nobody outside too.
What it cannot give, since it shares the kernel without cgroups: a memory limit on
kernel objects (SysV shared memory is reclaimed when the executor is recycled) and
isolation from kernel-wide counters.

`UnsharedProcessBackend` is the weaker fallback where bubblewrap cannot run either,
used only when the user accepts it explicitly: `unshare` and `setpriv` where the
kernel permits, the host's own file system readable.
"""

from __future__ import annotations

import concurrent.futures
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sandbox.channel import Channel, PipeTransport
from sandbox.config import SandboxConfig
from sandbox.docker_backend import HIDDEN_HOST_FACTS, SandboxUnavailable, _pid_alive, await_greeting
from sandbox.image import EXECUTOR_PATH
from sandbox.rootfs import PYTHON
from sandbox.runtime import EXECUTOR_IN_RUNTIME, runtime_path, runtime_ready
from sandbox.seccomp import seccomp_program_fd

NOBODY = 65534


def _runs(command: list[str], **options) -> bool:
    return _failure(command, **options) is None


def _failure(command: list[str], **options) -> str | None:
    """None when `command` exits 0, else the last line it printed (or why it could not run)."""
    try:
        done = subprocess.run(command, capture_output=True, timeout=20, env={}, **options)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return _last_line(done.returncode, done.stdout + done.stderr)


def _last_line(returncode: int, output: bytes) -> str | None:
    """None for exit status 0, else the last line printed (or the status)."""
    if returncode == 0:
        return None
    lines = output.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {returncode}"


class ProcessExecutor:
    def __init__(self, process: subprocess.Popen, scratch: str | None = None) -> None:
        self.process, self.scratch = process, scratch
        # The transport owns the pipes through Popen's own file objects: closing them
        # there, once, leaves no raw descriptor for a later garbage collection to close again.
        self.channel = Channel(PipeTransport(process.stdin, process.stdout))
        self.name = f"pid {process.pid}"

    def destroy(self) -> None:
        self.channel.close()
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _popen(command: list[str], config: SandboxConfig, cwd: str = "/", pass_fds: tuple[int, ...] = (),
           stderr=subprocess.DEVNULL, **options) -> subprocess.Popen:
    memory = (config.memory_mb + 256) * 1024 * 1024

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    try:
        return subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env={},
            cwd=cwd, start_new_session=True, preexec_fn=limit, bufsize=0, pass_fds=pass_fds, **options,
        )
    except OSError as exc:
        raise SandboxUnavailable(f"cannot start {command[0]}: {exc}") from None


def _start(command: list[str], config: SandboxConfig, what: str, scratch: str) -> ProcessExecutor:
    try:
        process = _popen(command, config, cwd=scratch)
    except SandboxUnavailable:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return await_greeting(ProcessExecutor(process, scratch), config.start_timeout, what)


class BubblewrapExecutor(ProcessExecutor):
    """A bubblewrap sandbox whose root is this executor's own copy of the runtime."""

    def __init__(self, process: subprocess.Popen, private_root: Path | None) -> None:
        super().__init__(process)
        self.private_root = private_root

    def destroy(self) -> None:
        # The executor is PID 1 of its namespace: killing it ends every process in there.
        inner = children(self.process.pid)
        super().destroy()
        for pid in inner:
            try:
                os.kill(pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        if self.private_root is not None:
            shutil.rmtree(self.private_root, ignore_errors=True)


def bubblewrap_and_runtime(why: str = "") -> tuple[str, Path]:
    """bubblewrap's path and the runtime's folder, or SandboxUnavailable saying what to do."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap is not installed (apt-get install -y bubblewrap){why}")
    runtime = runtime_path()
    if not runtime_ready(runtime):
        raise SandboxUnavailable(f"the executor's runtime is missing ({runtime}); build it with `agent sandbox build`")
    return bwrap, runtime


def isolation_args(config: SandboxConfig, hostname: str, seccomp_fd: int) -> list[str]:
    """What every bubblewrap sandbox of the project gets beside its root: its own /proc with the
    host's facts hidden, a read-only /dev, a tmpfs scratch, every namespace, nobody, the
    executor as PID 1 (no bubblewrap init to seize; the namespace ends with it), death with
    its parent, the seccomp filter, a new session, an empty environment, no capabilities."""
    return [
        "--proc", "/proc", *[arg for path in HIDDEN_HOST_FACTS for arg in ("--ro-bind", "/dev/null", path)],
        "--dev", "/dev", "--remount-ro", "/dev",
        "--size", str(config.scratch_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp",
        "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--as-pid-1", "--die-with-parent", "--seccomp", str(seccomp_fd),
        "--hostname", hostname, "--new-session", "--clearenv", "--cap-drop", "ALL", "--chdir", "/tmp",
    ]


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except (OSError, ValueError):
        return []


class BubblewrapBackend:
    name = "process"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.bwrap, self.runtime = bubblewrap_and_runtime()
        # As root, bubblewrap itself runs as nobody: the sandbox's user maps to nobody outside,
        # never to root, and its process limit is then enforced.
        self.user = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
        self.copies = self.runtime.parent / "executors"
        self.copies.mkdir(exist_ok=True)
        os.chmod(self.copies, 0o755)
        _sweep_copies(self.copies)
        # --die-with-parent follows the thread that started bubblewrap: one thread that lives as
        # long as the backend starts them all, so a pool thread's end never kills an executor.
        self._parent = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="bubblewrap-parent")
        executor = self._parent.submit(self._launch, [PYTHON, "-I", "-c", "pass"], subprocess.PIPE).result()
        try:
            failure = _wait_failure(executor.process)
        finally:
            executor.destroy()
        if failure is not None:
            raise SandboxUnavailable(f"bubblewrap does not run here ({failure}); unprivileged user namespaces "
                                     "must be enabled, and the runtime's folder readable by nobody")

    def _private_root(self) -> Path:
        """A copy of the runtime for one executor: its files are read by no other sandbox."""
        target = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self.copies))
        done = subprocess.run(["cp", "-a", "--reflink=auto", f"{self.runtime}/.", str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise SandboxUnavailable(f"cannot copy the executor's runtime: {done.stderr.strip()[-200:]}")
        os.chmod(target, 0o755)
        shutil.copyfile(EXECUTOR_PATH, target / EXECUTOR_IN_RUNTIME.lstrip("/"))
        return target

    def _command(self, program: list[str], root_fd: int, seccomp_fd: int) -> list[str]:
        return [self.bwrap, "--ro-bind-fd", str(root_fd), "/", *isolation_args(self.config, "sandbox", seccomp_fd),
                *program]

    def _launch(self, program: list[str], stderr=subprocess.DEVNULL) -> "BubblewrapExecutor":
        """Starts bubblewrap (on the backend's one parent thread) without waiting for its greeting."""
        root = self._private_root()
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        seccomp_fd = seccomp_program_fd()
        try:
            process = _popen(self._command(program, root_fd, seccomp_fd), self.config,
                             pass_fds=(root_fd, seccomp_fd), stderr=stderr, **self.user)
        except SandboxUnavailable:
            shutil.rmtree(root, ignore_errors=True)
            raise
        finally:
            os.close(root_fd)
            os.close(seccomp_fd)
        return BubblewrapExecutor(process, root)

    def spawn(self) -> ProcessExecutor:
        program = [PYTHON, "-I", EXECUTOR_IN_RUNTIME, "--scratch=/tmp", "--kill-scope=all",
                   f"--memory-mb={self.config.memory_mb}", f"--nproc={self.config.pids_limit}"]
        executor = self._parent.submit(self._launch, program).result()
        return await_greeting(executor, self.config.start_timeout, "the bubblewrap sandbox")

    def describe(self) -> dict[str, str]:
        return {
            "backend": "process (bubblewrap; no Docker engine used)",
            "engine": f"bubblewrap at {self.bwrap}",
            "image": f"runtime {self.runtime} (Python 3.11), copied for each executor",
            "isolation": (
                f"no network; the root is the executor's own read-only copy of the runtime (interpreter, "
                "libraries, standard library; no page cache shared with another job); "
                f"{self.config.scratch_mb} MiB tmpfs scratch wiped "
                f"after each job; new user, PID, IPC, UTS and cgroup namespaces, the executor PID 1 of its own; "
                f"{self.config.memory_mb} MiB address space per candidate; {self.config.pids_limit} processes; "
                "all capabilities dropped; seccomp denies ptrace, process_vm_readv/writev, fadvise64 and mincore; "
                f"no nested user namespaces; user 65534 (nobody) inside{' and outside' if self.user else ''}; "
                "empty environment; a fresh forked process per job, every leftover process killed; "
                "wall-clock timeouts enforced by the host; executors recycled after a timeout, crash or taint, "
                "and never given two jobs of the same tests; ends with the command that started it. "
                "Shares the host's kernel without cgroups (see README)"
            ),
        }

    def close(self) -> None:
        self._parent.shutdown(wait=False)


def _sweep_copies(folder: Path) -> None:
    """Removes runtime copies left by a process that is gone (killed outright)."""
    for entry in folder.iterdir():
        owner = entry.name.split("-", 1)[0]
        if owner.isdigit() and not _pid_alive(int(owner)):
            shutil.rmtree(entry, ignore_errors=True)


def _wait_failure(process: subprocess.Popen) -> str | None:
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        return "it did not finish in 20 s"
    return _last_line(process.returncode, err or b"")


WEAK_WARNING = (
    "WARNING: the unshared process sandbox is weaker than Docker and bubblewrap: candidates share this machine's "
    "kernel and can read its files{extra}; it runs only because weaker isolation was accepted explicitly."
)


class UnsharedProcessBackend:
    """The last resort, only on request: `unshare` and `setpriv` where permitted."""

    name = "process-unshared"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.as_root = os.geteuid() == 0
        prefix = ["unshare", "--net", "--pid", "--ipc", "--fork", "--mount-proc", "--kill-child"]
        if not self.as_root:
            prefix.insert(1, "--map-root-user")
        self.prefix = prefix if shutil.which("unshare") and _runs([*prefix, "true"]) else []
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        # nobody must be able to run this Python (not so when it lives under a private /root)
        usable = self.as_root and shutil.which("setpriv") and _runs([*drop, sys.executable, "-I", "-c", "pass"])
        self.drop = drop if usable else []

    def warning(self) -> str:
        missing = []
        if not self.prefix:
            missing.append("network, other processes, IPC")
        if self.as_root and not self.drop:
            missing.append("it runs as root")
        return WEAK_WARNING.format(extra=f" (also not isolated here: {'; '.join(missing)})" if missing else "")

    def spawn(self) -> ProcessExecutor:
        scratch = tempfile.mkdtemp(prefix="repair-agent-scratch-")
        if self.drop:
            os.chown(scratch, NOBODY, NOBODY)
        scope = "all" if self.prefix else "group"
        command = [*self.prefix, *self.drop, sys.executable, "-I", str(EXECUTOR_PATH), f"--scratch={scratch}",
                   f"--kill-scope={scope}", f"--memory-mb={self.config.memory_mb}"]
        return _start(command, self.config, "the unshared process sandbox", scratch=scratch)

    def describe(self) -> dict[str, str]:
        parts = ["a fresh forked process per job", f"{self.config.memory_mb} MiB address space per candidate",
                 "empty environment", "private scratch folder wiped after each job", "wall-clock timeouts from the host"]
        parts.insert(0, "new network, PID, IPC and mount namespaces" if self.prefix else "NO namespaces (not permitted here)")
        if self.drop:
            parts.insert(1, "runs as nobody")
        return {
            "backend": "process-unshared (local subprocess; weaker isolation, accepted explicitly)",
            "engine": "none (no Docker engine or bubblewrap used)",
            "image": f"host Python {sys.version.split()[0]} at {sys.executable}",
            "isolation": "; ".join(parts) + ". " + self.warning(),
        }

    def close(self) -> None:
        pass
