"""Documentation screenshot: the web page of ``leukodet serve`` after analysing real fields (issue #18).

Starts the service on a free loopback port with ``--weights`` (a model whose classes are e.g. BCCD's
Platelets, RBC, WBC), uploads the given field images through the page in headless Chromium (the system's, through
Playwright), waits for the differential, and saves a full-page screenshot. It also prints one JSON line with what
the page shows (film text, differential rows, smear line), saved under benchmarks/results/.

    .venv/bin/python benchmarks/page_screenshot.py --weights W.pt --fields a.jpg b.jpg c.jpg \\
        --png docs/img/web_page_bccd.png --name page_bccd
"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright
from result_file import publish

from leukodet.serve import create_app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--fields", nargs="+", required=True, type=Path)
    p.add_argument("--png", required=True, type=Path)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--name", default="page_screenshot")
    args = p.parse_args()
    browser_path = next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser"))), None)
    if browser_path is None:
        raise SystemExit("no Chromium on PATH (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(args.weights, Path(tmp) / "data", conf=args.conf)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
                page.goto(base + "/")
                page.set_input_files("#picker", [str(f) for f in args.fields])
                expect(page.locator("#chosen li")).to_have_count(len(args.fields))
                page.click("#analyse")
                page.wait_for_selector("#differential tbody tr", timeout=120_000)
                page.wait_for_function(
                    "() => Array.from(document.querySelectorAll('main img[src]'))"
                    ".every(i => i.complete && i.naturalWidth > 0)"
                )
                args.png.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.png), full_page=True)
                shown = {
                    "film_text": page.locator("#film-text").inner_text(),
                    "differential_rows": page.locator("#differential tbody tr").all_inner_texts(),
                    "diff_summary": page.locator("#diff-summary").inner_text(),
                    "smear": page.locator("#smear-summary").inner_text(),
                    "field_captions": page.locator(".field figcaption").all_inner_texts(),
                }
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    publish(
        args.name,
        {
            "benchmark": "page_screenshot",
            "weights": Path(args.weights).name,
            "fields": [f.name for f in args.fields],
            "conf": args.conf,
            "png": str(args.png),
            **shown,
        },
    )


if __name__ == "__main__":
    main()
