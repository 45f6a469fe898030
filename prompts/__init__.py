"""Prompt templates, one set per model family. Loading only, no logic."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

FOLDER = Path(__file__).parent
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
    return _ENV.get_template(f"{family}/{name}.j2")


def render(family: str, name: str, **values) -> str:
    return template(family, name).render(**values).strip() + "\n"
