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

import os
import resource
import shutil
import subprocess
import sys
import tempfile

from sandbox.channel import Channel, PipeTransport
from sandbox.config import SandboxConfig
from sandbox.docker_backend import HIDDEN_HOST_FACTS, SandboxUnavailable, await_greeting
from sandbox.image import EXECUTOR_IN_IMAGE, EXECUTOR_PATH
from sandbox.rootfs import PYTHON, rootfs_path, rootfs_ready

NOBODY = 65534


def _runs(command: list[str], **options) -> bool:
    return _failure(command, **options) is None


def _failure(command: list[str], **options) -> str | None:
    """None when `command` exits 0, else the last line it printed (or why it could not run)."""
    try:
        done = subprocess.run(command, capture_output=True, timeout=20, env={}, **options)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = (done.stdout + done.stderr).decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


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


def _start(command: list[str], config: SandboxConfig, what: str, scratch: str | None = None,
           pass_fds: tuple[int, ...] = (), **options) -> ProcessExecutor:
    memory = (config.memory_mb + 256) * 1024 * 1024

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    try:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={},
            cwd=scratch or "/", start_new_session=True, preexec_fn=limit, bufsize=0, pass_fds=pass_fds, **options,
        )
    except OSError as exc:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise SandboxUnavailable(f"cannot start {what}: {exc}") from None
    return await_greeting(ProcessExecutor(process, scratch), config.start_timeout, what)


class BubblewrapBackend:
    name = "process"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.bwrap = shutil.which("bwrap")
        if self.bwrap is None:
            raise SandboxUnavailable("bubblewrap is not installed (apt-get install -y bubblewrap)")
        self.root = rootfs_path()
        if not rootfs_ready(self.root):
            raise SandboxUnavailable(f"the sandbox's root file system is missing ({self.root}); "
                                     "build it with `agent sandbox build`")
        # As root, bubblewrap itself runs as nobody: the sandbox's user maps to nobody outside,
        # never to root, and its process limit is then enforced.
        self.user = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
        root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY)
        try:
            probe = self._command([PYTHON, "-I", "-c", "pass"], root_fd, executor_fd=None)
            failure = _failure(probe, pass_fds=(root_fd,), **self.user)
        finally:
            os.close(root_fd)
        if failure is not None:
            raise SandboxUnavailable(f"bubblewrap does not run here ({failure}); unprivileged user namespaces "
                                     "must be enabled, and the root file system readable by nobody")

    def _command(self, program: list[str], root_fd: int, executor_fd: int | None) -> list[str]:
        command = [
            self.bwrap, "--ro-bind-fd", str(root_fd), "/",
            "--proc", "/proc", *[arg for path in HIDDEN_HOST_FACTS for arg in ("--ro-bind", "/dev/null", path)],
            "--dev", "/dev", "--remount-ro", "/dev",
            "--size", str(self.config.scratch_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp",
            "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY),
            # No --die-with-parent: its signal follows the thread that started bwrap, and pool threads
            # end. The executor exits when its stdin closes (at our exit, however it happens) and
            # the PID namespace, every candidate in it, goes with it.
            "--hostname", "sandbox", "--new-session", "--clearenv", "--cap-drop", "ALL",
            "--chdir", "/tmp",
        ]
        if executor_fd is not None:
            # the root is read-only: the executor goes into a tmpfs over /opt, made read-only too
            command += ["--tmpfs", "/opt", "--ro-bind-data", str(executor_fd), EXECUTOR_IN_IMAGE, "--remount-ro", "/opt"]
        return command + program

    def spawn(self) -> ProcessExecutor:
        root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY)
        executor_fd = os.open(EXECUTOR_PATH, os.O_RDONLY)
        try:
            program = [PYTHON, "-I", EXECUTOR_IN_IMAGE, "--scratch=/tmp", "--kill-scope=all",
                       f"--memory-mb={self.config.memory_mb}", f"--nproc={self.config.pids_limit}"]
            return _start(self._command(program, root_fd, executor_fd), self.config, "the bubblewrap sandbox",
                          pass_fds=(root_fd, executor_fd), **self.user)
        finally:
            os.close(root_fd)
            os.close(executor_fd)

    def describe(self) -> dict[str, str]:
        return {
            "backend": "process (bubblewrap; no Docker engine used)",
            "engine": f"bubblewrap at {self.bwrap}",
            "image": f"root file system {self.root} (Python 3.11, read-only)",
            "isolation": (
                f"no network; read-only root with Python only; {self.config.scratch_mb} MiB tmpfs scratch wiped "
                f"after each job; new user, PID, IPC, UTS and cgroup namespaces; {self.config.memory_mb} MiB "
                f"address space per candidate; {self.config.pids_limit} processes; all capabilities dropped; "
                f"no nested user namespaces; user 65534 (nobody) inside{' and outside' if self.user else ''}; "
                "empty environment; a fresh forked process per job, every leftover process killed; "
                "wall-clock timeouts enforced by the host; executors recycled after a timeout, crash or taint, "
                "and never given two jobs of the same tests. Shares the host's kernel without cgroups (see README)"
            ),
        }

    def close(self) -> None:
        pass  # every executor is destroyed by the pool that made it


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
