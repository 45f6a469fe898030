"""A real headless Chromium for the run page's tests (Debian's `chromium`, driven by
Playwright; Playwright's own browser download is not used). A page is opened from
`file://` as a person would, and every console error and every request it makes is kept."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


@dataclass
class OpenedPage:
    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def external_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(("file://", "data:", "about:"))]


def launch(playwright):
    executable = shutil.which("chromium") or CHROMIUM
    if not Path(executable).exists():
        raise RuntimeError("no Chromium at /usr/bin/chromium: run scripts/setup.sh, which installs Debian's chromium")
    return playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])


def open_page(browser, path: Path, width: int = 1280, height: int = 900) -> OpenedPage:
    page = browser.new_page(viewport={"width": width, "height": height})
    opened = OpenedPage(page)
    page.on("console", lambda message: opened.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return opened
