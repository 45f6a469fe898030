"""`agent view`: a run, several runs, a sweep or a solve as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

from agent.view.data import PageData, ViewError, page_data
from agent.view.page import render_page, write_page

__all__ = ["PageData", "ViewError", "default_target", "page_data", "render_page", "view", "write_page"]


def default_target(paths: list[Path]) -> Path:
    """Beside the run (one run, a sweep or a solve), else view.html here."""
    return paths[0] / "view.html" if len(paths) == 1 else Path("view.html")


def view(paths: list[Path], target: Path | None = None) -> Path:
    return write_page(page_data(paths), target or default_target(paths))
