"""What `agent serve` runs on a CPU, from its features, and which tensors the int8
quantizer turns into int8 (the checkpoint itself is made and served in tests/e2e)."""

from __future__ import annotations

from agent.llm.quantize_int8 import is_quantized
from agent.llm.serve import ServerConfig, cpu_choice, vllm_arguments

AVX2 = "flags : fpu sse2 avx avx2 fma"
VNNI = AVX2 + " avx512f avx512_bf16 avx512_vnni avx_vnni"
AMX = VNNI + " amx_bf16 amx_int8 amx_tile"


def test_the_default_follows_what_was_measured():
    assert (cpu_choice(AVX2).dtype, cpu_choice(AVX2).quant) == ("float32", "none")
    assert "0.59x" in cpu_choice(AVX2).reason  # int8 lost without an int8 dot product
    assert (cpu_choice(VNNI).dtype, cpu_choice(VNNI).quant) == ("float32", "int8")  # int8 won both there
    assert "1.8x" in cpu_choice(VNNI).reason
    assert (cpu_choice(AMX).dtype, cpu_choice(AMX).quant) == ("bfloat16", "int8")
    assert cpu_choice(VNNI, quant="none").quant == "none"  # the override


def test_an_override_stays_possible_and_is_said():
    chosen = cpu_choice(AVX2, dtype="bfloat16", quant="int8")
    assert (chosen.dtype, chosen.quant) == ("bfloat16", "int8")
    assert "--quant override" in chosen.line and "int8 W8A8" in chosen.line
    arguments = vllm_arguments("/m", "name", ServerConfig(dtype="bfloat16"), "cpu")
    assert arguments[arguments.index("--dtype") + 1] == "bfloat16"


def test_only_the_decoder_s_linear_weights_become_int8():
    assert is_quantized("model.layers.0.self_attn.q_proj.weight")
    assert is_quantized("model.layers.23.mlp.down_proj.weight")
    assert not is_quantized("model.layers.0.self_attn.q_proj.bias")
    assert not is_quantized("lm_head.weight") and not is_quantized("model.embed_tokens.weight")
    assert not is_quantized("model.layers.0.input_layernorm.weight")
