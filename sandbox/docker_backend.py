"""Hardened containers, each running one executor attached through its stdio.

A container lives as long as the command that started it: the executor exits when
its stdin closes (which the kernel does for us if the host dies, even by SIGKILL),
the container is then removed by Docker (auto-remove), and `close()` removes any
that remain. Containers left by a dead owner on this host are swept at start-up.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import docker
import docker.errors
from docker.types import LogConfig

from sandbox.channel import Channel, ChannelClosed, ChannelTimeout, DockerAttachTransport
from sandbox.config import LABEL, SandboxConfig
from sandbox.image import RUNTIME_TMPFS, bootstrap_command, image_exists, image_tag


# Host facts a candidate has no use for, hidden on both backends: the kernel's command line
# and the machine's memory and paging figures.
HIDDEN_HOST_FACTS = ("/proc/cmdline", "/proc/meminfo", "/proc/vmstat", "/proc/zoneinfo", "/proc/swaps")
# Docker's own masked paths (setting the list replaces them), and those.
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    *HIDDEN_HOST_FACTS,
]


# The private copy of the runtime lives in the container's memory (its tmpfs): the
# container's memory limit makes room for it.
RUNTIME_MEMORY_MB = 64


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be used; the message says why and how to fix it."""


def docker_client(timeout: int = 30) -> docker.DockerClient:
    """A client whose engine answers, or SandboxUnavailable."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise SandboxUnavailable(
            f"no Docker engine answers ({_short_reason(exc)}); start one (see README: `dockerd &`) "
            "or use --sandbox process"
        ) from None


def _short_reason(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return text if len(text) < 160 else text[:157] + "..."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def owner_labels(kind: str) -> dict[str, str]:
    """The project's label with this kind and the owning process, which `remove_orphans` reads."""
    return {LABEL: kind, f"{LABEL}.owner-pid": str(os.getpid()), f"{LABEL}.owner-host": socket.gethostname()}


def remove_orphans(client: docker.DockerClient, kind: str) -> int:
    """Removes the project's containers of this kind (label value) whose owning process on
    this host is gone: a sandbox or a model server whose owner was killed outright."""
    removed = 0
    try:
        containers = client.api.containers(all=True, filters={"label": f"{LABEL}={kind}"})
    except docker.errors.DockerException:
        return 0
    for info in containers:
        labels = info.get("Labels") or {}
        if labels.get(f"{LABEL}.owner-host") != socket.gethostname():
            continue
        owner = labels.get(f"{LABEL}.owner-pid", "")
        if owner.isdigit() and not _pid_alive(int(owner)):
            try:
                client.api.remove_container(info["Id"], force=True)
                removed += 1
            except docker.errors.DockerException:
                pass
    return removed


def await_greeting(executor, timeout: float, what: str):
    """Returns `executor` once its executor said hello; destroys it and raises otherwise."""
    try:
        who, hello = executor.channel.receive(time.monotonic() + timeout)
    except (ChannelClosed, ChannelTimeout) as exc:
        executor.destroy()
        raise SandboxUnavailable(f"{what} did not start: {exc}") from None
    if who != "executor" or hello.get("op") != "hello":
        executor.destroy()
        raise SandboxUnavailable(f"{what} did not greet")
    return executor


class DockerExecutor:
    """One running container and the channel to its executor."""

    def __init__(self, client: docker.DockerClient, container_id: str, channel: Channel) -> None:
        self.client, self.container_id, self.channel = client, container_id, channel
        self.name = container_id[:12]

    def destroy(self) -> None:
        self.channel.close()
        try:
            self.client.api.remove_container(self.container_id, force=True)
        except docker.errors.DockerException:
            pass  # already gone: auto-remove won the race


class DockerBackend:
    name = "docker"

    def __init__(self, config: SandboxConfig, client: docker.DockerClient | None = None) -> None:
        self.config = config
        self.client = client or docker_client()
        self.image = config.image or image_tag()
        if not image_exists(self.client, self.image):
            raise SandboxUnavailable(f"the sandbox image {self.image} is missing; build it with `agent sandbox build`")
        self.session = uuid.uuid4().hex[:12]
        self.sweep_orphans()

    def labels(self) -> dict[str, str]:
        return {**owner_labels("sandbox"), f"{LABEL}.session": self.session}

    def sweep_orphans(self) -> int:
        return remove_orphans(self.client, "sandbox")

    def host_config(self) -> dict:
        memory = f"{self.config.memory_mb + 128 + RUNTIME_MEMORY_MB}m"
        config = self.client.api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.config.scratch_mb}m,mode=1777",
                   "/usr": RUNTIME_TMPFS},
            cap_drop=["ALL"],
            # Only for the bootstrap, which runs as root to read the image's runtime (closed to
            # everyone else) and then drops to nobody for good, which clears every capability.
            cap_add=["SETUID", "SETGID"],
            security_opt=["no-new-privileges"],
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=self.config.pids_limit,
            nano_cpus=int(self.config.cpus * 1e9),
            ipc_mode="none",
            auto_remove=True,
            log_config=LogConfig(type=LogConfig.types.NONE),
        )
        config["MaskedPaths"] = MASKED_PATHS
        return config

    def spawn(self) -> DockerExecutor:
        try:
            created = self.client.api.create_container(
                self.image,
                command=bootstrap_command("--scratch=/tmp", "--kill-scope=all",
                                          f"--memory-mb={self.config.memory_mb}"),
                user="0:0",
                working_dir="/tmp",
                environment={},
                hostname="sandbox",
                network_disabled=True,
                stdin_open=True,
                tty=False,
                labels=self.labels(),
                host_config=self.host_config(),
            )
            container_id = created["Id"]
            raw = self.client.api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            sock = getattr(raw, "_sock", raw)
            self.client.api.start(container_id)
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot start a sandbox container: {_short_reason(exc)}") from None
        executor = DockerExecutor(self.client, container_id, Channel(DockerAttachTransport(sock, keep=raw)))
        return await_greeting(executor, self.config.start_timeout, "the sandbox executor")

    def remove_all(self) -> None:
        try:
            containers = self.client.api.containers(all=True, filters={"label": f"{LABEL}.session={self.session}"})
        except docker.errors.DockerException:
            return
        for info in containers:
            try:
                self.client.api.remove_container(info["Id"], force=True)
            except docker.errors.DockerException:
                pass

    def describe(self) -> dict[str, str]:
        version = self.client.version()
        info = self.client.info()
        return {
            "backend": "docker (warm pool of hardened containers)",
            "engine": f"Docker {version.get('Version')} on {info.get('OperatingSystem')}, "
            f"cgroup v{info.get('CgroupVersion', '?')}, runtime {info.get('DefaultRuntime')}",
            "image": self.image,
            "isolation": (
                f"no network; read-only root; {self.config.scratch_mb} MiB tmpfs scratch wiped after each job; "
                "a private copy of the runtime (interpreter, libraries, standard library) in the container's "
                "own tmpfs, nothing of the shared image readable (no page cache shared with another job); "
                f"{self.config.memory_mb + 128 + RUNTIME_MEMORY_MB} MiB memory (candidate {self.config.memory_mb} "
                f"MiB); {self.config.cpus:g} CPU; {self.config.pids_limit} pids; all capabilities dropped "
                "(the bootstrap's SETUID and SETGID end with its drop to nobody); "
                "no-new-privileges; user 65534 (nobody); empty environment; no IPC namespace sharing; "
                "the executor is PID 1 and undumpable (candidates can neither signal nor inspect it); "
                "a fresh forked process per job, every leftover process killed; "
                "wall-clock timeouts enforced by the host; containers recycled after a timeout, crash, taint "
                "(changed limits or scheduling, IPC objects left) or their job quota, and never given two jobs "
                "of the same tests"
            ),
        }

    def close(self) -> None:
        self.remove_all()
