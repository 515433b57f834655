"""The web page in headless Chromium (Playwright, the system's Chromium; never a downloaded browser).

A real server (uvicorn in a thread, loopback, free port) runs the app with :class:`TruthDetector`; the test
drops one synthetic field on the page and picks two more, analyses them, waits for the boxes and the
differential, hides and shows a class, reclassifies one cell through the review dialog, checks that the
differential changed and that ``GET /audit`` holds the change, and reopens the analysis from the list.

Without Chromium (or the ``playwright`` package) the test skips with a loud reason, except under CI (``CI``
set), where it fails. ``LEUKODET_SCREENSHOTS=DIR`` also saves the documentation's screenshots there
(``web_page.png``: the page after an analysis; ``review.png``: the review dialog).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from leukodet.records.vocab import LLD_CLASSES
from leukodet.serve import create_app
from leukodet.serve.web import STATIC

from ..report.browser import find_browser
from .conftest import TestClient
from .truth import TruthDetector

try:  # Playwright's auto-waiting assertions; without the package the browser test skips (or fails under CI)
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the test reports the missing package itself
    expect = None

SEEDS = (4, 5, 6)
VIEWPORT = {"width": 1280, "height": 800}

DROP = """async ([name, data]) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: 'image/png'}));
  const target = document.getElementById('drop');
  for (const kind of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(kind, {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }
}"""


LOADED = """() => Array.from(document.querySelectorAll('main img[src]')).every(i => i.complete && i.naturalWidth > 0)"""
"""Every image of the analysis has loaded and decoded (the review dialog's crop is empty until it opens)."""


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed: the web page was NOT tested in a browser"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(f"SKIPPED, NOT TESTED: {reason}")
    return sync_playwright


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _count(page: Any, name: str) -> int:
    return int(page.locator(f'#differential tbody tr[data-class="{name}"] td').nth(1).inner_text())


def _shoot(page: Any, name: str, tmp_path: Path, **options: Any) -> None:
    page.screenshot(path=str(tmp_path / name), **options)
    folder = os.environ.get("LEUKODET_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / name, Path(folder) / name)


def _upload(page: Any, truth: TruthDetector, tmp_path: Path) -> None:
    """The first field dropped on the drop zone, the others through the file picker; then Analyse."""
    paths = []
    for i in range(len(SEEDS)):
        paths.append(tmp_path / f"field{i + 1}.png")
        paths[-1].write_bytes(truth.field_png(i))
    page.evaluate(DROP, [paths[0].name, base64.b64encode(paths[0].read_bytes()).decode()])
    page.set_input_files("#picker", [str(p) for p in paths[1:]])
    expect(page.locator("#chosen li")).to_have_count(len(SEEDS))
    page.click("#analyse")


def _check_analysis(page: Any, n_cells: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('#fields rect.box').length === {n_cells}")
    page.wait_for_selector("#differential tbody tr")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(LOADED)
    page.evaluate("() => window.scrollTo(0, 0)")
    expect(page.locator(".gallery button.cell")).to_have_count(n_cells)
    expect(page.locator(".field img")).to_have_count(len(SEEDS))
    expect(page.locator("#film-text")).to_have_text(
        re.compile(rf"^{n_cells - _nones(page)} WBCs in 3 fields\.")
    )


def _nones(page: Any) -> int:
    return page.locator('.gallery[data-class="None"] button.cell').count()


def _toggle(page: Any, name: str) -> None:
    boxes = page.locator(f'#fields rect.box[data-class="{name}"]')
    page.uncheck(f'#toggles input[data-class="{name}"]')
    for i in range(boxes.count()):
        expect(boxes.nth(i)).to_have_class(re.compile(r"\boff\b"))
    page.check(f'#toggles input[data-class="{name}"]')
    for i in range(boxes.count()):
        expect(boxes.nth(i)).not_to_have_class(re.compile(r"\boff\b"))


def _reclassify(page: Any, tmp_path: Path, source: str, target: str) -> None:
    page.locator(f'.gallery[data-class="{source}"] button.cell').first.click()
    page.wait_for_selector("#review-dialog[open]")
    # the menu offers classes by role: the 13 WBC types, then LLD's None as an artefact
    expect(page.locator('#rv-class optgroup[data-role="wbc"] option')).to_have_count(len(LLD_CLASSES) - 1)
    expect(page.locator('#rv-class optgroup[data-role="artefact"] option')).to_have_text(["None"])
    page.select_option("#rv-class", target)
    nucleoli = '#rv-attrs select[data-attribute="nucleoli"]'
    other = "inconspicuous" if page.get_attribute(nucleoli, "data-current") == "prominent" else "prominent"
    page.select_option(nucleoli, other)
    _shoot(page, "review.png", tmp_path)
    page.click("#rv-save")
    page.wait_for_selector("#review-dialog", state="hidden")
    cell = page.locator(f'#differential tr[data-class="{target}"] td:nth-child(2)')
    expect(cell).to_have_text("1")


def test_upload_view_review_and_audit_in_chromium(tmp_path: Path) -> None:
    executable = find_browser()
    sync_playwright = _sync_playwright()
    truth = TruthDetector(SEEDS, size=640)
    labels = [LLD_CLASSES[c.class_id] for f in truth.fields for c in f.cells if c.class_id < len(LLD_CLASSES)]
    source = Counter(x for x in labels if x != "None").most_common(1)[0][0]
    target = next(c for c in LLD_CLASSES[1:] if c not in labels)
    app = create_app(truth, tmp_path / "data", weights_name="synthetic-truth.pt")
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        problems: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("request", lambda request: requests.append(request.url))
        page.goto(base + "/")
        page.fill("#reviewer", "Dr Test")
        _upload(page, truth, tmp_path)
        _check_analysis(page, len(labels))
        _shoot(page, "web_page.png", tmp_path, full_page=True)
        before = _count(page, source)
        text = page.locator("#film-text").inner_text()
        _toggle(page, source)
        _reclassify(page, tmp_path, source, target)
        # the page re-renders the report, then fetches the audit log: wait for each state, never read at once
        expect(page.locator(f'#differential tbody tr[data-class="{source}"] td').nth(1)).to_have_text(
            str(before - 1)
        )
        expect(page.locator("#film-text")).not_to_have_text(text)
        expect(page.locator("#audit tbody tr")).to_have_count(2)
        expect(page.locator("#review-note")).to_be_visible()
        aid = page.evaluate("() => location.hash.slice(1)")
        entries = page.request.get(f"{base}/v1/analyses/{aid}/audit").json()["entries"]
        assert [(e["reviewer"], e["field"], e["before"], e["after"]) for e in entries][0] == (
            "Dr Test",
            "class",
            source,
            target,
        )
        page.goto(base + "/")  # reopen from the list of analyses
        page.click(f'#analyses a[data-id="{aid}"]')
        expect(page.locator(".badge.was").first).to_have_text(f"model: {source}")
        browser.close()
    assert problems == []
    assert all(url.startswith(base) for url in requests if not url.startswith(("data:", "blob:"))), requests
    assert (tmp_path / "web_page.png").stat().st_size > 10_000 and (tmp_path / "review.png").is_file()


def test_the_page_and_its_files_come_from_the_package(tmp_path: Path) -> None:
    """Without a browser: ``/`` and ``/static/*`` are served with their types and policy, and load nothing else."""
    with TestClient(create_app(TruthDetector((2,), size=160), tmp_path / "data")) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert (
            "default-src 'none'" in policy
            and "script-src 'self'" in policy
            and "connect-src 'self'" in policy
        )
        texts = [page.text]
        for name, kind in STATIC.items():
            response = client.get(f"/static/{name}")
            assert response.status_code == 200 and response.headers["content-type"] == kind
            texts.append(response.text)
        for name in ("index.html", "nope.js", "..%2Fweb.py"):
            assert client.get(f"/static/{name}").status_code == 404
    addresses = {a for text in texts for a in re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text)}
    assert addresses <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name, not a request
    assert not any("@import" in t or "url(" in t or "@font-face" in t for t in texts)
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert '"serve/static/*"' in pyproject.read_text()  # shipped in the wheel


def test_the_page_asks_for_the_api_token_once_and_sends_it(tmp_path: Path) -> None:
    executable = find_browser()
    sync_playwright = _sync_playwright()
    truth = TruthDetector(SEEDS, size=640)
    labels = [c for f in truth.fields for c in f.cells if c.class_id < len(LLD_CLASSES)]
    secret = "page-token-0123456789"
    app = create_app(truth, tmp_path / "data", tokens={secret: "Dr Token"})
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        asked: list[str] = []

        def answer(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept(secret)

        page.on("dialog", answer)
        page.goto(base + "/")
        page.fill("#reviewer", "Someone")
        _upload(page, truth, tmp_path)
        _check_analysis(page, len(labels))  # every crop and field image loaded: the cookie carries the token
        browser.close()
    assert len(asked) == 1 and "API token" in asked[0]
