"""The run page: one self-contained HTML file (styles, scripts and data inlined; no
request leaves it), rendered from `eval.view.data.PageData` with a Jinja template."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from eval.view.data import PageData

JSDIFF_VERSION = "9.0.0"  # eval/view/assets/vendor/diff.min.js, from the npm package `diff`
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _asset(name: str) -> str:
    return resources.files("eval.view").joinpath("assets", name).read_text(encoding="utf-8")


def script_json(data: PageData) -> str:
    """The data as JSON that cannot end its <script> element, whatever a run's strings hold."""
    return data.model_dump_json(exclude_none=True).translate(_JSON_ESCAPES)


def render_page(data: PageData) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("repair-agent")
    except PackageNotFoundError:
        ours = "?"
    environment = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    template = environment.from_string(_asset("page.html.j2"))
    return template.render(
        title=data.title, version=ours, css=Markup(_asset("viewer.css")), data=Markup(script_json(data)),
        jsdiff=Markup(_asset("vendor/diff.min.js")), viewer=Markup(_asset("viewer.js")),
        jsdiff_version=JSDIFF_VERSION, jsdiff_licence=_asset("vendor/diff.LICENSE.txt"))


def write_page(data: PageData, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_page(data), encoding="utf-8")
    tmp.replace(target)
    return target
