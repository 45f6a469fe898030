"""The same executor as a local process: for machines with no Docker engine.

Weaker isolation, said loudly: the candidate shares the host's kernel, file system
(read access) and, where namespaces are not permitted, its network and process
table. Where `unshare` works it gets fresh network, PID and mount namespaces; as
root it runs as the unprivileged user nobody.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from sandbox.channel import Channel, PipeTransport
from sandbox.config import SandboxConfig
from sandbox.docker_backend import SandboxUnavailable, await_greeting
from sandbox.image import EXECUTOR_PATH

WARNING = (
    "WARNING: the process sandbox is weaker than Docker: candidates share this machine's kernel and can read "
    "its files{extra}; use it only where no Docker engine can run."
)
NOBODY = 65534


def _runs(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=10, env={}).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class ProcessExecutor:
    def __init__(self, process: subprocess.Popen, channel: Channel, scratch: str) -> None:
        self.process, self.channel, self.scratch = process, channel, scratch
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
        shutil.rmtree(self.scratch, ignore_errors=True)


class ProcessBackend:
    name = "process"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.as_root = os.geteuid() == 0
        prefix = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]
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
            missing.append("network, other processes")
        if self.as_root and not self.drop:
            missing.append("it runs as root")
        return WARNING.format(extra=f" (also not isolated here: {'; '.join(missing)})" if missing else "")

    def spawn(self) -> ProcessExecutor:
        scratch = tempfile.mkdtemp(prefix="repair-agent-scratch-")
        if self.drop:
            os.chown(scratch, NOBODY, NOBODY)
        scope = "all" if self.prefix else "group"
        command = [*self.prefix, *self.drop, sys.executable, "-I", str(EXECUTOR_PATH), f"--scratch={scratch}",
                   f"--kill-scope={scope}"]
        memory = (self.config.memory_mb + 256) * 1024 * 1024

        def limit() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        try:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={},
                cwd=scratch, start_new_session=True, preexec_fn=limit, bufsize=0,
            )
        except OSError as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            raise SandboxUnavailable(f"cannot start the process sandbox: {exc}") from None
        executor = ProcessExecutor(process, Channel(PipeTransport(process.stdin.fileno(), process.stdout.fileno())),
                                   scratch)
        return await_greeting(executor, self.config.start_timeout, "the process sandbox")

    def describe(self) -> dict[str, str]:
        parts = ["a fresh forked process per job", f"{self.config.memory_mb} MiB address space per candidate",
                 "empty environment", "private scratch folder wiped after each job", "wall-clock timeouts from the host"]
        parts.insert(0, "new network, PID and mount namespaces" if self.prefix else "NO namespaces (not permitted here)")
        if self.drop:
            parts.insert(1, "runs as nobody")
        return {
            "backend": "process (local subprocess; weaker isolation)",
            "engine": "none (no Docker engine used)",
            "image": f"host Python {sys.version.split()[0]} at {sys.executable}",
            "isolation": "; ".join(parts) + ". " + self.warning(),
        }

    def close(self) -> None:
        pass  # every executor is destroyed by the pool that made it
