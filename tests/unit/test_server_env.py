"""The source patches applied to the model server's vLLM: applied once, idempotent, and a
different vLLM is refused in one sentence instead of patched blindly."""

from __future__ import annotations

import pytest

from agent.llm.server_env import PATCHES, ServerEnvError, apply_patches, env_dir

CPU_PATCHES = [p for p in PATCHES if p.device == "cpu"]


def fake_env(tmp_path, body=lambda patch: patch.old):
    """A server environment whose vLLM files hold each patch's lines inside a function."""
    paths = []
    for patch in CPU_PATCHES:
        path = env_dir("cpu", tmp_path) / "lib" / "python3.11" / "site-packages" / patch.file
        path.parent.mkdir(parents=True, exist_ok=True)
        depth = (len(patch.old) - len(patch.old.lstrip(" "))) // 4  # the lines' own indentation, nested in ifs
        opening = "".join("    " * level + "if True:\n" for level in range(1, depth))
        path.write_text("def f(gen, loaded_fn, model):\n" + opening + body(patch) + "    return gen\n")
        paths.append(path)
    return paths


def test_the_patches_apply_once_and_compile(tmp_path):
    paths = fake_env(tmp_path)
    assert apply_patches("cpu", tmp_path) == [str(p) for p in paths]
    texts = [p.read_text() for p in paths]
    assert 'gen.device.type != "cpu"' in texts[0] and 'hasattr(compiled_fn, "finalize_loading")' in texts[1]
    assert apply_patches("cpu", tmp_path) == [] and [p.read_text() for p in paths] == texts
    for path, text in zip(paths, texts):
        compile(text, str(path), "exec")


def test_a_different_vllm_is_refused(tmp_path):
    fake_env(tmp_path, body=lambda patch: patch.old.replace("gen", "other").replace("compiled_fn", "other"))
    with pytest.raises(ServerEnvError, match="not the code this project patches"):
        apply_patches("cpu", tmp_path)


def test_the_patches_match_the_pinned_vllm_where_it_is_installed():
    """Where this machine has the CPU server environment, its vLLM holds each patched line."""
    from agent.llm.server_env import is_ready, site_packages

    if not is_ready("cpu"):
        pytest.skip("no CPU server environment on this machine (scripts/setup.sh makes one)")
    for patch in CPU_PATCHES:
        text = (site_packages("cpu") / patch.file).read_text()
        assert patch.new in text or text.count(patch.old) == 1, patch.file


def test_the_compile_cache_lives_in_the_projects_cache(tmp_path, monkeypatch):
    from agent.llm.serve import ServerConfig, vllm_environment

    monkeypatch.delenv("VLLM_CACHE_ROOT", raising=False)
    env = vllm_environment("cpu", ServerConfig(cache=str(tmp_path)))
    assert env["VLLM_CACHE_ROOT"] == str(tmp_path / "vllm")
    monkeypatch.setenv("VLLM_CACHE_ROOT", "/elsewhere")
    assert vllm_environment("cpu", ServerConfig(cache=str(tmp_path)))["VLLM_CACHE_ROOT"] == "/elsewhere"
