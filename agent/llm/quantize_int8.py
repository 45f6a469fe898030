"""Makes an int8 W8A8 checkpoint from a bf16/fp32 safetensors folder, offline and without
data: int8 weights with one scale per output channel, int8 activations per token computed
at run time (dynamic, symmetric), in compressed-tensors' `int-quantized` format, which
vLLM's CPU backend serves with its int8 kernels (oneDNN, or AMX on x86).

Every linear layer of the decoder is quantized; `lm_head` and the embeddings keep their
precision. Weights need no calibration data (their scales are their own absolute
maxima); activations are scaled per token when they flow, so none is needed there either.

Runs inside the model server's environment (torch, safetensors, compressed-tensors),
never in the agent's: `python quantize_int8.py SOURCE_DIR TARGET_DIR`.
"""

import json
import os
import shutil
import sys

LINEAR_SUFFIXES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def is_quantized(name: str) -> bool:
    module, _, leaf = name.rpartition(".")
    return leaf == "weight" and module.rsplit(".", 1)[-1] in LINEAR_SUFFIXES and ".layers." in name


def main(source: str, target: str) -> None:
    import torch
    from compressed_tensors.compressors import IntQuantizationCompressor
    from compressed_tensors.quantization import QuantizationConfig, QuantizationStatus, preset_name_to_scheme
    from safetensors.torch import load_file, save_file

    scheme = preset_name_to_scheme("W8A8", ["Linear"])
    tensors: dict = {}
    for name in sorted(os.listdir(source)):
        if name.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(source, name)))
    out, quantized = {}, 0
    for name, tensor in tensors.items():
        if not is_quantized(name):
            out[name] = tensor.contiguous()
            continue
        weight = tensor.to(torch.float32)
        scale = (weight.abs().amax(dim=1, keepdim=True) / 127.0).clamp(min=1e-8)
        compressed = IntQuantizationCompressor.compress(
            {"weight": weight, "weight_scale": scale, "weight_zero_point": torch.zeros_like(scale, dtype=torch.int8)},
            scheme)
        module = name[: -len(".weight")]
        out[f"{module}.weight"] = compressed["weight"].contiguous()
        out[f"{module}.weight_scale"] = scale.to(tensor.dtype).contiguous()
        quantized += 1
    if not quantized:
        raise SystemExit(f"no decoder linear layer found in {source}")
    os.makedirs(target, exist_ok=True)
    save_file(out, os.path.join(target, "model.safetensors"), metadata={"format": "pt"})
    for name in os.listdir(source):
        if not name.endswith(".safetensors") and name != "config.json" and os.path.isfile(os.path.join(source, name)):
            shutil.copy(os.path.join(source, name), os.path.join(target, name))
    with open(os.path.join(source, "config.json")) as handle:
        config = json.load(handle)
    quantization = QuantizationConfig(config_groups={"group_0": scheme}, format="int-quantized",
                                      quantization_status=QuantizationStatus.COMPRESSED, ignore=["lm_head"])
    config["quantization_config"] = quantization.model_dump(exclude_none=True, mode="json")
    with open(os.path.join(target, "config.json"), "w") as handle:
        json.dump(config, handle, indent=2)
    print(f"{quantized} linear layers in int8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
