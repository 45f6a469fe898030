"""The run page: one self-contained HTML file (styles, scripts and data inlined; no
request leaves it), rendered from `agent.view.data.PageData` with a Jinja template."""

from __future__ import annotations

import base64
import gzip
import json
import re
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from agent.view.data import PageData

JSDIFF_VERSION = "9.0.0"  # agent/view/assets/vendor/diff.min.js, from the npm package `diff`
DATA_SCRIPT = re.compile(r'<script id="page-data" type="application/gzip\+base64">([A-Za-z0-9+/=]*)</script>')


def _asset(name: str) -> str:
    return resources.files("agent.view").joinpath("assets", name).read_text(encoding="utf-8")


def packed_data(data: PageData) -> str:
    """The data as base64 of gzipped JSON: about a tenth of the JSON's size, and nothing a
    run's strings hold can end its <script> element (base64 has no `<`)."""
    raw = data.model_dump_json(exclude_none=True).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def unpacked_data(page: str) -> dict:
    """The data a page holds, read back (for tests and tools)."""
    found = DATA_SCRIPT.search(page)
    if found is None:
        raise ValueError("not a page written by `agent view`")
    return json.loads(gzip.decompress(base64.b64decode(found.group(1))))


def render_page(data: PageData) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("repair-agent")
    except PackageNotFoundError:
        ours = "?"
    environment = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    template = environment.from_string(_asset("page.html.j2"))
    return template.render(
        title=data.title, version=ours, css=Markup(_asset("viewer.css")), data=Markup(packed_data(data)),
        jsdiff=Markup(_asset("vendor/diff.min.js")), viewer=Markup(_asset("viewer.js")),
        jsdiff_version=JSDIFF_VERSION, jsdiff_licence=_asset("vendor/diff.LICENSE.txt"))


def write_page(data: PageData, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_page(data), encoding="utf-8")
    tmp.replace(target)
    return target
