"""`agent serve`: vLLM's OpenAI-compatible server in the foreground, and the launcher
that later commands use to reuse or start the embedded default server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from agent.llm.models import DEFAULT_MODEL, ModelPullError, pull, ready_path
from sandbox.cache import cache_dir
from agent.llm.server_env import Device, ensure_server_env

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"


class ServeError(RuntimeError):
    """The server cannot be started; the message is one sentence."""


class ServerConfig(BaseModel):
    device: Literal["auto", "cpu", "gpu"] = "auto"
    model: str = DEFAULT_MODEL
    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    max_model_len: int = 4096
    kv_cache_gib: int = Field(2, ge=1, description="VLLM_CPU_KVCACHE_SPACE on CPU")
    startup_timeout: float = 600.0
    cache: str | None = None
    quant: Literal["auto", "none", "int8"] = Field("auto", description="auto: what this CPU serves fastest")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="auto: from this CPU's features")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def detect_device() -> Device:
    if shutil.which("nvidia-smi"):
        try:
            if subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=10).returncode == 0:
                return "gpu"
        except (OSError, subprocess.SubprocessError):
            pass
    return "cpu"


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return True
        except OSError:
            return False


def healthy(base_url: str, timeout: float = 2.0) -> bool:
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{root}/health", timeout=timeout) as response:
            return response.status == 200
    except Exception:  # noqa: BLE001 - anything but a 200 is "not healthy"
        return False


def resolve_model_path(config: ServerConfig, device: Device, say: Callable[[str], None]) -> tuple[str, str]:
    """(what vLLM loads, the name clients use)."""
    local = Path(config.model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ServeError(f"model folder {local} has no config.json")
        return str(local.resolve()), local.name
    if config.quant == "int8" or (config.quant == "auto" and device == "cpu"
                                  and cpu_choice(cpu_flags()).quant == "int8"):
        if config.model != DEFAULT_MODEL and ready_path(config.model, config.cache) is None:
            raise ServeError(f"--quant int8 quantizes a pulled model; pull {config.model} first")
        from agent.llm.models import quantize

        try:
            return str(quantize(config.model, config.cache, say)), config.model
        except ModelPullError as exc:
            raise ServeError(str(exc)) from None
    pulled = ready_path(config.model, config.cache)
    if pulled is None:
        if config.model != DEFAULT_MODEL and device == "gpu":
            return config.model, config.model  # vLLM fetches it from the hub itself
        try:
            pulled = pull(config.model, device, config.cache, say)
        except ModelPullError as exc:
            raise ServeError(str(exc)) from None
    return str(pulled), config.model


class CpuChoice(BaseModel):
    """How the server runs on this CPU, and why (`agent serve` prints `line`)."""

    dtype: Literal["float32", "bfloat16"]
    quant: Literal["none", "int8"]
    features: list[str]
    reason: str

    @property
    def line(self) -> str:
        quant = "int8 W8A8" if self.quant == "int8" else "no int8"
        return (f"CPU features {', '.join(self.features) or 'none of AVX2, AVX-512, VNNI, AMX'}: {self.dtype}, "
                f"{quant} ({self.reason}; --dtype and --quant override)")


_FEATURES = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8")


def cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_choice(flags: str, dtype: str = "auto", quant: str = "auto") -> CpuChoice:
    """bf16 only with AMX, else fp32; the int8 W8A8 checkpoint where the CPU has an int8 dot
    product (VNNI or AMX). Measured: on an AVX2-only EPYC oneDNN builds no bf16 matmul (5 to
    8 tokens/s whatever the batch) and int8 generated at 0.59x fp32; on a Xeon with
    AVX512-BF16 but no AMX, fp32 ran 1.2 to 1.4 times faster than bf16; on an EPYC with
    AVX-512 VNNI, int8 generated 1.8x fp32 at 64 in flight with greedy pass@1 56.7% -> 58.5%
    on all 164 and the search equal on its 42-problem subset (results/int8_*.json). AMX was
    not measured: bf16 there follows vLLM's CPU guide, int8 its VNNI."""
    found = [f for f in _FEATURES if re.search(rf"\b{f}\b", flags)]
    reasons = []
    if dtype == "auto":
        dtype = "bfloat16" if "amx_bf16" in found else "float32"
        reasons.append("bf16 with AMX" if dtype == "bfloat16" else "fp32 beats bf16 without AMX")
    if quant == "auto":
        int8_units = sorted({"avx512_vnni", "avx_vnni", "amx_int8"} & set(found))
        quant = "int8" if int8_units else "none"
        reasons.append(f"int8 with {', '.join(int8_units)}: 1.8x fp32's tokens/s, pass@1 kept" if int8_units
                       else "int8 ran at 0.59x fp32 without an int8 dot product")
    return CpuChoice(dtype=dtype, quant=quant, features=found, reason="; ".join(reasons) or "as given")


def cpu_dtype() -> str:
    return cpu_choice(cpu_flags()).dtype


def vllm_arguments(model_path: str, name: str, config: ServerConfig, device: Device = "cpu") -> list[str]:
    """vLLM's server arguments but where it listens: the same on the host and in a container."""
    dtype = cpu_choice(cpu_flags(), config.dtype, config.quant).dtype if device == "cpu" else config.dtype
    return [
        "--model", model_path, "--served-model-name", name,
        "--max-model-len", str(config.max_model_len), "--dtype", dtype,
        "--enable-prefix-caching", "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
        "--disable-uvicorn-access-log",
        *os.environ.get("REPAIR_AGENT_VLLM_ARGS", "").split(),
    ]


def vllm_command(python: Path, model_path: str, name: str, config: ServerConfig, device: Device = "cpu") -> list[str]:
    return [str(python), "-m", "vllm.entrypoints.openai.api_server", "--host", config.host, "--port", str(config.port),
            *vllm_arguments(model_path, name, config, device)]


def vllm_environment(device: Device, config: ServerConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_", "OMP_"))}
    # vLLM keys its compile cache by model, vLLM version and arguments below this folder:
    # a second start loads the compiled model instead of compiling it again.
    env["VLLM_CACHE_ROOT"] = os.environ.get("VLLM_CACHE_ROOT", str(cache_dir(config.cache) / "vllm"))
    if device == "cpu":
        cores = os.sched_getaffinity(0)
        # Measured here: the model's OpenMP threads on every core beat vLLM's default
        # binding (which reserves one core for the API server) by 1.65x on 2 cores.
        env["VLLM_CPU_OMP_THREADS_BIND"] = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", _ranges(sorted(cores)))
        env["VLLM_CPU_KVCACHE_SPACE"] = os.environ.get("VLLM_CPU_KVCACHE_SPACE", str(config.kv_cache_gib))
    return env


def _ranges(cores: list[int]) -> str:
    parts, start = [], cores[0]
    for prev, cur in zip(cores, cores[1:] + [None]):
        if cur != prev + 1:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
            start = cur
    return ",".join(parts)


class RunningServer:
    """A vLLM server process group that this process started."""

    def __init__(self, process: subprocess.Popen, base_url: str, log: Path, name: str) -> None:
        self.process, self.base_url, self.log, self.model = process, base_url, log, name

    def wait(self) -> int:
        """Blocks until the server exits on its own; its exit code."""
        return self.process.wait()

    def stop(self, grace: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # children that outlived the leader too
        except ProcessLookupError:
            pass
        self.process.wait()


def start_server(config: ServerConfig, say: Callable[[str], None] = print) -> RunningServer:
    """Starts vLLM and returns once it is healthy; ServeError with one sentence otherwise."""
    device: Device = detect_device() if config.device == "auto" else config.device
    if not port_free(config.host, config.port):
        raise ServeError(f"port {config.port} on {config.host} is in use; pick another with --port")
    model_path, name = resolve_model_path(config, device, say)
    python = ensure_server_env(device, say, config.cache)
    log = cache_dir(config.cache) / "logs" / f"vllm-{config.port}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if device == "cpu":
        say(cpu_choice(cpu_flags(), config.dtype, config.quant).line)
    say(f"starting vLLM on {device.upper()} with {name} (log: {log}); on CPU the first start takes about 2 minutes (compiling the model), later ones about 1 minute (the compiled model is cached)")
    with open(log, "w") as handle:
        process = subprocess.Popen(
            vllm_command(python, model_path, name, config, device), stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=vllm_environment(device, config), start_new_session=True,
        )
    server = RunningServer(process, config.base_url, log, name)
    deadline = time.monotonic() + config.startup_timeout
    try:
        while not healthy(config.base_url):
            if process.poll() is not None:
                raise ServeError(f"the vLLM server died during start-up (exit {process.returncode}); "
                                 f"see the last lines of {log}")
            if time.monotonic() > deadline:
                raise ServeError(f"the vLLM server was not healthy after {config.startup_timeout:.0f} s; see {log}")
            time.sleep(1)
    except BaseException:
        server.stop(grace=5)
        raise
    return server
