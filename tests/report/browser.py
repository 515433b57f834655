"""Headless Chromium for the HTML report test: the dumped DOM and the browser's console log."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str:
    """The Chromium executable; fails under CI (``CI`` set) and skips loudly elsewhere when there is none."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    reason = (
        "no Chromium on PATH (apt-get install -y chromium): the HTML report was NOT rendered in a browser"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {reason}")
    warnings.warn(f"SKIPPED, NOT TESTED: {reason}", stacklevel=2)  # shows in pytest's warnings summary
    pytest.skip(f"SKIPPED, NOT TESTED: {reason}")


def render(page: Path, profile: Path, timeout: float = 25.0) -> tuple[str, str]:
    """Open ``page`` in headless Chromium; returns (DOM after the load event, stderr log)."""
    cmd = [
        find_browser(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_messages(log: str) -> list[str]:
    """Console and uncaught-error lines of the page in Chromium's stderr log."""
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


class Dom(HTMLParser):
    """Elements of a dumped DOM as (tag, attributes) in document order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Elements with ``tag`` whose attributes include ``attrs`` (``class_`` matches one class name)."""
        out = []
        for t, a in self.elements:
            if t != tag:
                continue
            if "class_" in attrs and attrs["class_"] not in a.get("class", "").split():
                continue
            if all(a.get(k) == v for k, v in attrs.items() if k != "class_"):
                out.append(a)
        return out
