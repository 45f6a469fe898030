"""`agent model quantize` makes the int8 W8A8 checkpoint offline, and `agent serve --quant
int8` serves it with vLLM's int8 kernels and answers a chat request."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.test_serving import AGENT, ask, free_port, run_agent


def test_an_int8_checkpoint_is_made_once_and_served():
    made = run_agent("model", "quantize")
    assert made.returncode == 0, made.stderr[-2000:]
    folder = Path(re.search(r": (/\S+); serve it", made.stdout).group(1))
    config = json.loads((folder / "config.json").read_text())["quantization_config"]
    assert config["format"] == "int-quantized" and config["ignore"] == ["lm_head"]
    assert config["config_groups"]["group_0"]["input_activations"]["dynamic"] is True
    started = time.monotonic()
    assert run_agent("model", "quantize").returncode == 0 and time.monotonic() - started < 15  # cached

    port = free_port()
    process = subprocess.Popen([*AGENT, "serve", "--port", str(port), "--quant", "int8"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = process.stdout.readline()  # blocks until healthy
        match = re.search(r"at (http://\S+/v1) \(log: (\S+)\)", line)
        assert match, f"no URL printed: {line!r}"
        reply, _ = ask(match.group(1), messages=[
            {"role": "user", "content": "Write a Python function `add(a, b)` that returns the sum. Only code."}],
            max_tokens=128)
        assert "def add" in reply.choices[0].text
        log = Path(match.group(2)).read_text(errors="replace")
        assert re.search(r"Selected \w*Int8\w* for CompressedTensorsW8A8Int8", log), "vLLM chose no int8 kernel"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # `serve` stops vLLM (its own process group) on the way out
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert "int8 W8A8" in process.stderr.read()  # the choice line, said
    assert not subprocess.run(["pgrep", "-f", f"--port {port} "], capture_output=True).stdout  # nothing left
