"""Reaching a Ray cluster, or one sentence on why not. `ray.init` retries an address that
does not answer for minutes, so the address is checked first with a plain connection."""

from __future__ import annotations

import socket
from pathlib import Path


class ClusterUnreachable(RuntimeError):
    """The cluster cannot be used; the message is one sentence."""


def _host_port(address: str) -> tuple[str, int] | None:
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host or "127.0.0.1", int(port)


def local_address() -> str | None:
    """The address of the cluster `ray start` left running on this machine, if any."""
    recorded = Path("/tmp/ray/ray_current_cluster")
    try:
        return recorded.read_text().strip() or None
    except OSError:
        return None


def resolve(address: str) -> str:
    """The address to connect to: `auto` is the cluster started on this machine."""
    if address == "auto":
        found = local_address()
        if found is None:
            raise ClusterUnreachable("--ray auto: no Ray cluster runs on this machine; start one with "
                                     "`.venv/bin/ray start --head` or give its address")
        return found
    if _host_port(address) is None:
        raise ClusterUnreachable(f"--ray {address}: give auto, HOST:PORT or ray://HOST:PORT")
    return address


def check_reachable(address: str, timeout: float = 5.0) -> None:
    host, port = _host_port(address) or ("", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise ClusterUnreachable(f"the Ray cluster at {address} cannot be reached ({exc.strerror or exc}); "
                                 "check the address, or start it with `ray start --head`") from None


def connect(address: str) -> str:
    """Connects this process to the cluster; returns the address used."""
    import ray

    target = resolve(address)
    check_reachable(target)
    try:
        ray.init(address=target, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterUnreachable(f"the Ray cluster at {target} refused the connection: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return target
