"""Removes a server container once the `agent serve --docker` that owns it is gone, even
when that process was killed outright (SIGKILL runs no cleanup of its own).

Started detached, in its own session, by `container.start_container_server`:
`python -m agent.llm.reaper OWNER_PID CONTAINER_ID`. It exits when the container is gone.
"""

from __future__ import annotations

import sys
import time

import docker
import docker.errors

from sandbox.docker_backend import _pid_alive

OWNER_POLL_SECONDS = 1.0
CONTAINER_POLL_SECONDS = 15.0


def reap(owner_pid: int, container_id: str) -> None:
    client = docker.from_env(timeout=30)
    last_check = time.monotonic()
    while _pid_alive(owner_pid):
        time.sleep(OWNER_POLL_SECONDS)
        if time.monotonic() - last_check > CONTAINER_POLL_SECONDS:
            last_check = time.monotonic()
            try:
                client.api.inspect_container(container_id)
            except docker.errors.NotFound:
                return
            except docker.errors.DockerException:
                pass
    try:
        client.api.remove_container(container_id, force=True)
    except docker.errors.DockerException:
        pass


if __name__ == "__main__":
    reap(int(sys.argv[1]), sys.argv[2])
