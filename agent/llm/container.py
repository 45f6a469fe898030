"""`agent serve --docker`: the same vLLM server inside a container.

CPU: an image this project builds offline (no container registry): a Debian root made
with debootstrap (`sandbox.rootfs.SERVER_RECIPE`: Python 3.11, its headers and g++ for
torch.compile, libnuma) and, on top, the site-packages of the model-server environment
that `agent serve` makes on the host: the same pinned vLLM with the same patches
(`server_env.PATCHES`). The model folder is mounted read-only, vLLM's compile cache is
kept in the project's cache, the port is published on 127.0.0.1 only, and the container
carries the project's label and its owner's pid. It is removed when `serve` stops; if
`serve` is killed outright, a detached reaper (`agent/llm/reaper.py`) removes it, and the
next `serve --docker` removes any that both missed.
GPU (untested here, no GPU on these machines): vLLM's official image from its registry.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import docker
import docker.errors
import docker.types

from agent.llm.serve import ServeError, ServerConfig, detect_device, healthy, port_free, resolve_model_path
from agent.llm.serve import vllm_arguments, vllm_environment
from agent.llm.server_env import PACKAGES, PATCHES, Device, ensure_server_env, site_packages
from sandbox.cache import cache_dir
from sandbox.config import LABEL
from sandbox.docker_backend import SandboxUnavailable, docker_client, owner_labels, remove_orphans
from sandbox.image import image_exists
from sandbox.rootfs import SERVER_RECIPE, RootfsError, build_rootfs

SERVER_IMAGE_REPOSITORY = "repair-agent-server"
SERVER_IMAGE_LATEST = f"{SERVER_IMAGE_REPOSITORY}:latest"
GPU_IMAGE = "vllm/vllm-openai:latest"
SITE_PACKAGES_IN_IMAGE = "/opt/repair-agent/server/site-packages"
MODEL_IN_CONTAINER = "/model"
CACHE_IN_CONTAINER = "/cache/vllm"
PORT_IN_CONTAINER = 8000
RECIPE_VERSION = "1"
HEALTH_PROBE = (f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT_IN_CONTAINER}/health', "
                "timeout=4)")
ENTRYPOINT = ["python3.11", "-m", "vllm.entrypoints.openai.api_server",
              "--host", "0.0.0.0", "--port", str(PORT_IN_CONTAINER)]


def server_image_tag() -> str:
    """Names what the image holds: the recipe, the pinned packages and the patches."""
    recipe = repr((RECIPE_VERSION, SERVER_RECIPE, PACKAGES["cpu"], [p.new for p in PATCHES if p.device == "cpu"],
                   ENTRYPOINT, HEALTH_PROBE))
    return f"{SERVER_IMAGE_REPOSITORY}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def build_server_image(client: docker.DockerClient, say: Callable[[str], None] = print,
                       cache: str | Path | None = None, force: bool = False) -> str:
    """The CPU server image's tag (also tagged `latest`, which compose.yaml names), building
    it when missing: a minute or two and about 3.8 GB the first time."""
    tag = server_image_tag()
    if image_exists(client, tag) and not force:
        client.images.get(tag).tag(SERVER_IMAGE_REPOSITORY, "latest")
        return tag
    ensure_server_env("cpu", say, cache)
    try:
        root = build_rootfs(say, force=force, recipe=SERVER_RECIPE)
    except RootfsError as exc:
        raise ServeError(str(exc)) from None
    packages = site_packages("cpu", cache)
    base = f"{SERVER_IMAGE_REPOSITORY}-base:{tag.split(':')[1]}"
    with tempfile.TemporaryDirectory(prefix="repair-agent-server-image-", dir=cache_dir(cache)) as work:
        archive = Path(work) / "root.tar"
        say(f"docker import of the server's root file system and {packages} (about 4 GB, a minute or two)")
        done = subprocess.run(["tar", "-cf", str(archive), "-C", str(root), "."], capture_output=True, text=True)
        if done.returncode == 0:
            done = subprocess.run(["tar", "-rf", str(archive), "-C", str(packages.parent),
                                   f"--transform=s,^site-packages,{SITE_PACKAGES_IN_IMAGE.lstrip('/')},",
                                   "site-packages"], capture_output=True, text=True)
        if done.returncode != 0:
            raise ServeError(f"packing the server image failed: {' '.join(done.stderr.strip().splitlines()[-1:])}")
        repository, base_tag = base.split(":")
        try:
            client.api.import_image(src=str(archive), repository=repository, tag=base_tag)
        except docker.errors.DockerException as exc:
            raise ServeError(f"docker import of the server image failed: {str(exc).splitlines()[0]}") from None
    say(f"adding the entry point and the health check: {tag}")
    dockerfile = "\n".join([
        f"FROM {base}",
        f"ENV PYTHONPATH={SITE_PACKAGES_IN_IMAGE} PYTHONUNBUFFERED=1 VLLM_CACHE_ROOT={CACHE_IN_CONTAINER}",
        "RUN python3.11 -c 'import vllm, transformers, gguf'",
        f"EXPOSE {PORT_IN_CONTAINER}",
        "HEALTHCHECK --interval=10s --timeout=5s --start-period=600s --retries=3 "
        f"CMD [\"python3.11\", \"-c\", \"{HEALTH_PROBE}\"]",
        "ENTRYPOINT [" + ", ".join(f'"{part}"' for part in ENTRYPOINT) + "]",
        "",
    ])
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile.encode())
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    context.seek(0)
    try:
        image, _ = client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, pull=False,
                                       labels={LABEL: "server-image"})
    except docker.errors.BuildError as exc:
        raise ServeError(f"docker build of the server image failed: {exc}") from None
    client.api.remove_image(base, noprune=True)  # the layer stays under the image; the name goes
    image.tag(SERVER_IMAGE_REPOSITORY, "latest")
    return tag


def container_name(port: int) -> str:
    return f"repair-agent-serve-{port}"


class ContainerServer:
    """A vLLM server container that this process started; `stop` removes it."""

    def __init__(self, container, base_url: str, log: Path, name: str) -> None:
        self.container, self.base_url, self.log, self.model = container, base_url, log, name
        self._follower = threading.Thread(target=self._follow_logs, daemon=True)
        self._follower.start()

    def _follow_logs(self) -> None:
        try:
            with open(self.log, "ab") as handle:
                for chunk in self.container.logs(stream=True, follow=True):
                    handle.write(chunk)
                    handle.flush()
        except (docker.errors.DockerException, OSError, ValueError):
            pass

    def running(self) -> bool:
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return False
        return self.container.status in ("created", "running")

    def exit_code(self) -> int | None:
        try:
            self.container.reload()
            return self.container.attrs["State"]["ExitCode"]
        except docker.errors.DockerException:
            return None

    def wait(self) -> int | None:
        """Blocks until the container stops on its own; its exit code."""
        try:
            return self.container.wait()["StatusCode"]
        except docker.errors.DockerException:
            return None

    def stop(self, grace: float = 20.0) -> None:
        try:
            self.container.stop(timeout=int(grace))
        except docker.errors.DockerException:
            pass
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException:
            pass


def _remove_named(client: docker.DockerClient, name: str) -> None:
    try:
        client.api.remove_container(name, force=True)
    except docker.errors.DockerException:
        pass


def _start_reaper(container_id: str) -> None:
    subprocess.Popen([sys.executable, "-m", "agent.llm.reaper", str(os.getpid()), container_id],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def start_container_server(config: ServerConfig, say: Callable[[str], None] = print) -> ContainerServer:
    """Starts the server's container and returns once it is healthy; ServeError with one
    sentence otherwise (the container is removed then)."""
    device: Device = detect_device() if config.device == "auto" else config.device
    if not port_free(config.host, config.port):
        raise ServeError(f"port {config.port} on {config.host} is in use; pick another with --port")
    try:
        client = docker_client()
    except SandboxUnavailable as exc:
        raise ServeError(str(exc).replace(" or use --sandbox process", "")) from None
    remove_orphans(client, "server")
    model_path, name = resolve_model_path(config, device, say)
    if not Path(model_path).is_dir():
        raise ServeError(f"--docker serves a local model folder; {config.model} is not one (pull it first)")
    if device == "cpu":
        image = build_server_image(client, say, config.cache)
    else:
        say(f"pulling {GPU_IMAGE} (the GPU path is untested on this project's machines)")
        try:
            client.images.pull(GPU_IMAGE)
        except docker.errors.DockerException as exc:
            raise ServeError(f"cannot pull {GPU_IMAGE}: {str(exc).splitlines()[0]}") from None
        image = GPU_IMAGE
    compile_cache = cache_dir(config.cache) / "vllm"
    compile_cache.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in vllm_environment(device, config).items() if k.startswith("VLLM_")}
    environment["VLLM_CACHE_ROOT"] = CACHE_IN_CONTAINER
    log = cache_dir(config.cache) / "logs" / f"vllm-docker-{config.port}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    arguments = vllm_arguments(MODEL_IN_CONTAINER, name, config, device)
    options: dict = dict(
        name=container_name(config.port), command=arguments, detach=True, environment=environment,
        labels=owner_labels("server"), ports={f"{PORT_IN_CONTAINER}/tcp": (config.host, config.port)},
        volumes={model_path: {"bind": MODEL_IN_CONTAINER, "mode": "ro"},
                 str(compile_cache): {"bind": CACHE_IN_CONTAINER, "mode": "rw"}},
        init=True,  # tini as pid 1: signals reach vLLM, and its exit ends the container
        shm_size="1g", cap_add=["SYS_NICE"],  # vLLM binds its memory to NUMA nodes (set_mempolicy)
        security_opt=["no-new-privileges"],
    )
    if device == "gpu":
        options.update(entrypoint=["python3", *ENTRYPOINT[1:]], ipc_mode="host",
                       device_requests=[docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])])
    say(f"starting vLLM in a container ({image}) on {device.upper()} with {name} (log: {log}); "
        "the first start compiles the model (about 2 minutes on CPU), later ones reuse the compiled model")
    try:
        container = client.containers.run(image, **options)
    except docker.errors.DockerException as exc:
        _remove_named(client, container_name(config.port))  # created, then failed to start
        raise ServeError(f"the server container did not start: {str(exc).splitlines()[0]}") from None
    _start_reaper(container.id)
    server = ContainerServer(container, config.base_url, log, name)
    deadline = time.monotonic() + config.startup_timeout
    try:
        while not healthy(config.base_url):
            if not server.running():
                raise ServeError(f"the vLLM server container died during start-up (exit {server.exit_code()}); "
                                 f"see the last lines of {log}")
            if time.monotonic() > deadline:
                raise ServeError(f"the vLLM server container was not healthy after {config.startup_timeout:.0f} s; "
                                 f"see {log}")
            time.sleep(1)
    except BaseException:
        server.stop(grace=5)
        raise
    return server

