"""Prompt templates: one default set (`default/`), and per model family only what differs
(a template of the same name, and `request.json`: options every request of the family
carries, such as Qwen3's thinking switch). Loading only, no logic."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jinja2

FOLDER = Path(__file__).parent
DEFAULT = "default"
FAMILIES = ("qwen2.5-coder", "qwen3", "generic")
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(FOLDER)), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    autoescape=False,
)


def family_of(model: str) -> str:
    name = model.lower()
    if "qwen3" in name:
        return "qwen3"
    if "qwen2.5" in name and "coder" in name:
        return "qwen2.5-coder"
    return "generic"


@functools.lru_cache(maxsize=64)
def template(family: str, name: str) -> jinja2.Template:
    own = FOLDER / family / f"{name}.j2"
    return _ENV.get_template(f"{family}/{name}.j2" if own.is_file() else f"{DEFAULT}/{name}.j2")


def render(family: str, name: str, **values) -> str:
    return template(family, name).render(**values).strip() + "\n"


@functools.lru_cache(maxsize=16)
def _request_options(family: str) -> dict[str, Any]:
    path = FOLDER / family / "request.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def request_options(family: str) -> dict[str, Any]:
    """Options the family's every request carries (a fresh copy, safe to change)."""
    return copy.deepcopy(_request_options(family))
