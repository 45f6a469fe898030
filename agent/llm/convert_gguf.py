"""Converts a GGUF checkpoint into a safetensors folder that vLLM on CPU loads.

Runs inside the model server's environment (torch, transformers, gguf, accelerate),
never in the agent's: `python convert_gguf.py MODEL.gguf OUT_DIR`.
"""

import os
import sys


def main(source: str, target: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        from transformers import GgufConfig

        extra = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers dequantize GGUF by default
        extra = {}
    folder, name = os.path.dirname(os.path.abspath(source)), os.path.basename(source)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16, **extra)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
