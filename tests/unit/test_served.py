"""What a bench run records of the weights behind it: the server's model folder and the
quantization its checkpoint declares (read from the real int8 config's form)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.llm.served import quantization_of, served_model
from tests.unit.scripted_server import ScriptedServer

pytestmark = pytest.mark.unit

# the quantization_config `agent model quantize` writes (compressed-tensors W8A8, data-free)
INT8 = {"quantization_config": {
    "quant_method": "compressed-tensors", "format": "int-quantized", "ignore": ["lm_head"],
    "config_groups": {"group_0": {
        "targets": ["Linear"],
        "weights": {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "channel", "dynamic": False},
        "input_activations": {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "token",
                              "dynamic": True}}}}}
INT8_LINE = "int W8A8 (compressed-tensors: weights per channel, activations per token, dynamic)"


def test_quantization_is_described_from_the_config():
    assert quantization_of(INT8) == INT8_LINE
    assert quantization_of({"torch_dtype": "bfloat16"}) == "none"
    assert quantization_of({"quantization_config": {"quant_method": "gptq"}}) == "gptq"


def test_served_model_reads_the_folder_the_server_reports(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(INT8))
    with ScriptedServer([], model="m", root=str(tmp_path)) as server:
        served = served_model(server.base_url, "m")
        assert served.root == str(tmp_path) and served.quantization == INT8_LINE
        assert served_model(server.base_url, "other").root is None  # not the model asked for
    with ScriptedServer([], model="m", root="/nowhere/on/this/machine") as server:
        served = served_model(server.base_url, "m")  # a remote server's folder: known path, unknown weights
        assert served.root == "/nowhere/on/this/machine" and served.quantization is None
    with ScriptedServer([], model="m") as server:
        assert served_model(server.base_url, "m").model_dump() == {"name": "m", "root": None, "quantization": None}
    assert served_model("http://127.0.0.1:9/v1", "m", timeout=2).root is None  # nobody listens


def test_a_bench_run_records_the_weights_it_was_served(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "config.json").write_text(json.dumps(INT8))
    dataset = tmp_path / "data.jsonl"
    dataset.write_text(json.dumps({"task_id": "t/0", "entry_point": "add", "prompt": "def add(a, b):\n",
                                   "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"}) + "\n")
    with ScriptedServer([], model="m", root=str(tmp_path / "weights"),
                        default="```python\ndef add(a, b):\n    return a + b\n```") as server:
        result = CliRunner().invoke(app, ["bench", "--dataset", str(dataset), "--n", "1", "--k", "1", "--rounds", "0",
                                          "--sandbox", "process", "--base-url", server.base_url, "--model", "m",
                                          "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["served"] == {"name": "m", "root": str(tmp_path / "weights"), "quantization": INT8_LINE}
    from agent.view.data import page_data

    (view,) = page_data([tmp_path / "run"]).runs
    assert view.head["weights"] == f"{tmp_path / 'weights'} (quantization {INT8_LINE})"
