"""What a server says it serves: the model's folder (vLLM's `root` in `/v1/models`) and,
when that folder is on this machine, the quantization its checkpoint declares. A bench
run records it, so a result says which weights produced it (bf16, fp32 or int8 W8A8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field


class ServedModel(BaseModel):
    name: str
    root: str | None = Field(None, description="the folder the server loaded the model from, as it reports it")
    quantization: str | None = Field(None, description="what the checkpoint's config declares, 'none' when it "
                                                       "declares nothing; null when the folder is not readable here")


def quantization_of(config: dict[str, Any]) -> str:
    """A one-line description of a Hugging Face config's `quantization_config`."""
    quant = config.get("quantization_config")
    if not quant:
        return "none"
    method = quant.get("quant_method", "unknown")
    for group in (quant.get("config_groups") or {}).values():
        weights, activations = group.get("weights") or {}, group.get("input_activations") or {}
        if weights:
            bits = f"W{weights.get('num_bits')}" + (f"A{activations.get('num_bits')}" if activations else "")
            kind = weights.get("type", "")
            detail = ", ".join(filter(None, [
                f"weights per {weights['strategy']}" if weights.get("strategy") else "",
                f"activations per {activations['strategy']}" if activations.get("strategy") else "",
                "dynamic" if activations.get("dynamic") else ""]))
            return f"{kind}{' ' if kind else ''}{bits} ({method}{': ' + detail if detail else ''})"
    return method


def served_model(base_url: str, model: str, api_key: str = "EMPTY", timeout: float = 10.0) -> ServedModel:
    """The model `model` as the server at `base_url` lists it; what cannot be learned stays null."""
    served = ServedModel(name=model)
    try:
        cards = httpx.get(f"{base_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {api_key}"},
                          timeout=timeout).json().get("data") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return served
    card = next((c for c in cards if isinstance(c, dict) and c.get("id") == model), None)
    root = card.get("root") if card else None
    if not isinstance(root, str):
        return served
    served.root = root
    try:
        config = json.loads((Path(root) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return served
    served.quantization = quantization_of(config) if isinstance(config, dict) else None
    return served
