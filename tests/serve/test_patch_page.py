"""Patch labelling in the web page, in headless Chromium (Playwright, the system's Chromium).

A real server (uvicorn in a thread, loopback) runs the app with :class:`TruthDetector`; the test opens a field's
patch editor, moves the patch, draws a box for a missed cell, resizes a box, rejects one and undoes that, reclassifies one, marks
the patch complete, and then sees the audit rows and the export statistics; the COCO export must then hold the
patch as the field's labelled region and exactly the patch's boxes. Every check waits for the state it
asserts (``expect``, ``wait_for_*``), never reads right after an action. Skips like ``test_web_page.py`` without
Chromium or Playwright (fails under CI). ``LEUKODET_SCREENSHOTS=DIR`` also saves ``patch.png`` there (the
editor before the patch is completed).
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

from leukodet.records.sources import load_source
from leukodet.serve import create_app

from ..report.browser import find_browser
from .conftest import TestClient
from .test_web_page import VIEWPORT, _shoot, _sync_playwright, serving
from .truth import TruthDetector

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - _sync_playwright reports it
    expect = None

SEEDS = (4, 5, 6)
FIELD = 1
WAIT = 15_000
"""Milliseconds each wait may take (a loaded machine)."""


def _analyse(base: str, truth: TruthDetector) -> str:
    files = [("files", (f"field{i}.png", truth.field_png(i), "image/png")) for i in range(len(SEEDS))]
    response = httpx.post(f"{base}/v1/analyses", files=files, timeout=60)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class Stage:
    """Image pixels of the field to screen pixels of the patch editor, and mouse drags between them."""

    def __init__(self, page: Any, state: dict[str, Any]) -> None:
        self.page = page
        box = page.locator("#pl-svg").bounding_box()
        self.x, self.y = box["x"], box["y"]
        self.sx, self.sy = box["width"] / state["width"], box["height"] / state["height"]

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.x + x * self.sx, self.y + y * self.sy

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        mouse = self.page.mouse
        mouse.move(*self.at(*start))
        mouse.down()
        mouse.move(*self.at(*end), steps=6)
        mouse.up()


def _free(state: dict[str, Any], size: float, avoid: list[list[float]] = ()) -> list[float]:
    """A ``size`` square inside the patch (with a margin) that overlaps no box."""
    x1, y1, x2, y2 = state["patch"]["region"]
    boxes = [b["box"] for b in state["boxes"]] + list(avoid)
    for y in range(int(y1) + 12, int(y2 - size) - 12, 6):
        for x in range(int(x1) + 12, int(x2 - size) - 12, 6):
            cand = [x, y, x + size, y + size]
            if all(
                cand[2] < b[0] - 4 or cand[0] > b[2] + 4 or cand[3] < b[1] - 4 or cand[1] > b[3] + 4
                for b in boxes
            ):
                return [float(v) for v in cand]
    raise AssertionError("no free spot in the patch")


def _state(page: Any, base: str, aid: str) -> dict[str, Any]:
    return page.request.get(f"{base}/v1/analyses/{aid}/fields/{FIELD}/patch").json()  # type: ignore[no-any-return]


def _move_patch(page: Any, base: str, aid: str) -> dict[str, Any]:
    """Drag the patch 24 image pixels right and 16 down by an empty spot inside it."""
    state = _state(page, base, aid)
    stage = Stage(page, state)
    grab = _free(state, 8)
    start = (grab[0] + 4, grab[1] + 4)
    stage.drag(start, (start[0] + 24, start[1] + 16))
    expect(page.locator("#pl-svg rect.patch")).to_have_attribute("data-origin", "moved", timeout=WAIT)
    moved = _state(page, base, aid)
    old, new = state["patch"]["region"], moved["patch"]["region"]
    assert new[2] - new[0] == old[2] - old[0] and new[0] > old[0] and new[1] > old[1]
    expect(page.locator("#pl-svg rect.patch")).to_have_attribute(
        "data-region", ",".join(f"{v:g}" for v in new)
    )
    return moved


def _draw_missed_cell(page: Any, state: dict[str, Any]) -> tuple[list[float], str]:
    """``n``, drag a box on an empty spot of the patch, ``2`` for its class; returns the box and class."""
    spot = _free(state, 30)
    page.keyboard.press("n")
    expect(page.locator("#pl-status")).to_have_text(re.compile("drag it on the image"), timeout=WAIT)
    Stage(page, state).drag((spot[0], spot[1]), (spot[2], spot[3]))
    expect(page.locator("#pl-svg rect.draft.pending")).to_have_count(1, timeout=WAIT)
    second = page.locator("#pl-class option").nth(1).get_attribute("value")
    page.keyboard.press("2")
    added = page.locator("#pl-svg rect.plbox.added")
    expect(added).to_have_count(1, timeout=WAIT)
    expect(added).to_have_attribute("data-class", second)
    return spot, str(second)


def _select(page: Any, box_id: int) -> None:
    page.locator(f'#pl-svg rect.plbox[data-id="{box_id}"]').click()
    expect(page.locator(f'#pl-svg rect.plbox.selected[data-id="{box_id}"]')).to_have_count(1, timeout=WAIT)


def _resize(page: Any, state: dict[str, Any], box: dict[str, Any]) -> None:
    """Select ``box`` and drag its lower-right handle 6 image pixels out."""
    _select(page, box["id"])
    expect(page.locator("#pl-svg rect.handle")).to_have_count(4, timeout=WAIT)
    x2, y2 = box["box"][2], box["box"][3]
    Stage(page, state).drag((x2, y2), (x2 + 6, y2 + 6))
    resized = page.locator(f'#pl-svg rect.plbox.resized[data-id="{box["id"]}"]')
    expect(resized).to_have_count(1, timeout=WAIT)


def _expect_rows(page: Any, counts: dict[str, int]) -> None:
    for action, n in counts.items():
        expect(page.locator(f'#audit tbody tr[data-action="{action}"]')).to_have_count(n, timeout=WAIT)


def test_label_a_patch_in_chromium(tmp_path: Path) -> None:
    executable = find_browser()
    sync_playwright = _sync_playwright()
    truth = TruthDetector(SEEDS, size=640)
    app = create_app(truth, tmp_path / "data", weights_name="synthetic-truth.pt")
    with serving(app) as base, sync_playwright() as p:
        aid = _analyse(base, truth)
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{base}/#{aid}")
        page.fill("#reviewer", "Dr Patch")
        started = time.perf_counter()
        page.locator(f'#fields .label-patch[data-field="{FIELD}"]').click(timeout=WAIT)
        patch = page.locator("#pl-svg rect.patch")
        expect(patch).to_have_attribute("data-origin", "proposed", timeout=WAIT)
        page.wait_for_function("() => document.getElementById('pl-image').naturalWidth > 0", timeout=WAIT)

        state = _move_patch(page, base, aid)
        inside = [b for b in state["boxes"] if b["in_patch"] and b["source"] == "model"]
        assert len(inside) >= 3, state
        spot, drawn_class = _draw_missed_cell(page, state)
        _resize(page, state, inside[0])
        _select(page, inside[1]["id"])
        page.keyboard.press("x")
        rejected = page.locator(f'#pl-svg rect.plbox.rejected[data-id="{inside[1]["id"]}"]')
        expect(rejected).to_have_count(1, timeout=WAIT)
        page.keyboard.press("Control+z")
        expect(rejected).to_have_count(0, timeout=WAIT)
        expect(page.locator("#patch-section")).to_have_attribute("data-busy", "false", timeout=WAIT)
        new_class = _reclassify(page, inside[2])
        _select(page, inside[0]["id"])
        _shoot(page, "patch.png", tmp_path, full_page=False)
        page.keyboard.press("Enter")
        expect(page.locator("#patch-section")).to_have_attribute("data-complete", "true", timeout=WAIT)
        _record_time(time.perf_counter() - started, shot=bool(os.environ.get("LEUKODET_SCREENSHOTS")))
        expect(page.locator("#pl-status")).to_have_text(re.compile("Complete: labelled by Dr Patch"))

        _expect_rows(
            page, {"patch_move": 1, "box_add": 1, "resize": 1, "not_wbc": 1, "undo": 1, "reclassify": 1}
        )
        _expect_rows(
            page, {"patch_complete": 1, "confirm": len(inside) - 1}
        )  # completing confirms the untouched
        expect(page.locator('#audit tbody tr[data-action="box_add"] td').nth(1)).to_have_text("Dr Patch")
        kept = len(inside) + 1  # the model's boxes in the patch (none rejected) and the added one
        stats = page.locator("#export-stats")
        expect(stats).to_have_text(re.compile(r"^1 of 3 field\(s\) with a complete patch"), timeout=WAIT)
        expect(stats).to_contain_text(f"1 labelled region(s), {kept} box(es)")
        expect(page.locator("#export-command")).to_have_text(
            f"leukodet train --model synthetic-truth.pt --data leukodet-{aid}-coco/data.yaml --out runs/retrain"
        )
        final = _state(page, base, aid)
        assert final["patch"]["complete"] and final["patch"]["region"] == state["patch"]["region"]
        browser.close()
        want = [(b["class"], b["box"]) for b in inside]
        x1, y1, x2, y2 = inside[0]["box"]
        want[0] = (inside[0]["class"], [x1, y1, x2 + 6, y2 + 6])  # resized
        want[2] = (new_class, inside[2]["box"])  # reclassified
        _check_export(base, aid, tmp_path, final["patch"]["region"], [*want, (drawn_class, spot)])
    assert problems == []


def _record_time(seconds: float, shot: bool) -> None:
    """``LEUKODET_PATCH_TIMING=FILE`` appends one JSON line: the seconds from opening the editor to the patch
    marked complete, for the 8 scripted actions (move, draw, resize, reject, undo, reclassify, select,
    complete), each awaited (``benchmarks/patch_labelling.py`` reads them)."""
    path = os.environ.get("LEUKODET_PATCH_TIMING")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"seconds_per_patch": round(seconds, 3), "actions": 8, "screenshot": shot}) + "\n"
            )


def _reclassify(page: Any, box: dict[str, Any]) -> str:
    """Select ``box`` and press the digit of another class; returns that class."""
    _select(page, box["id"])
    options = [page.locator("#pl-class option").nth(i).get_attribute("value") for i in range(3)]
    digit, name = next((i + 1, c) for i, c in enumerate(options) if c != box["class"])
    page.keyboard.press(str(digit))
    changed = page.locator(f'#pl-svg rect.plbox[data-id="{box["id"]}"]')
    expect(changed).to_have_attribute("data-class", name, timeout=WAIT)
    return str(name)


def _check_export(
    base: str, aid: str, tmp_path: Path, region: list[float], want: list[tuple[str, list[float]]]
) -> None:
    """The COCO export holds the patch as the field's one labelled region and exactly the ``want`` boxes (class,
    xyxy within 2 px: drawn and resized boxes come from mouse drags)."""
    response = httpx.get(f"{base}/v1/analyses/{aid}/export/coco", timeout=60)
    assert response.status_code == 200, response.text
    (tmp_path / "export.zip").write_bytes(response.content)
    with zipfile.ZipFile(tmp_path / "export.zip") as zf:
        zf.extractall(tmp_path / "export")
    ds, _ = load_source(next((tmp_path / "export").rglob("data.yaml")))
    (rec,) = [r for r in ds.records if r.labeled_regions]  # only the completed field has a region
    assert len(rec.labeled_regions) == 1
    assert all(abs(a - b) <= 0.5 for a, b in zip(rec.labeled_regions[0], region)), (
        rec.labeled_regions,
        region,
    )
    got = [(ds.classes[c.class_id], list(c.box)) for c in rec.cells]
    assert len(got) == len(want), (got, want)
    for name, box in want:
        match = [g for g in got if g[0] == name and all(abs(a - b) <= 2 for a, b in zip(g[1], box))]
        assert match, f"no exported {name} box at {box}: {got}"
        got.remove(match[0])


def test_the_patch_script_is_served_and_loaded_by_the_page(tmp_path: Path) -> None:
    with TestClient(create_app(TruthDetector((2,), size=160), tmp_path / "data")) as client:
        response = client.get("/static/patch.js")
        assert response.status_code == 200 and "leukodetPatch" in response.text
        page = client.get("/").text
        assert 'src="/static/patch.js"' in page and 'id="pl-keys"' in page  # the shortcuts are on the page
