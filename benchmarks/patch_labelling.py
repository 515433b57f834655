"""Benchmark (issue #24): how fast a patch is labelled in the web page, and how fast patches are proposed.

* **Page**: the browser test ``tests/serve/test_patch_page.py::test_label_a_patch_in_chromium`` (headless
  Chromium, a real server on loopback) is run ``--page-runs`` times with ``LEUKODET_PATCH_TIMING`` set; each run
  records the seconds from opening a field's patch editor to the patch marked complete, for its 8 scripted
  actions (move the patch, draw a missed cell, resize, reject, undo, reclassify, select, complete), each awaited
  until the page shows its result. That is the page's own time per patch, the floor under a person's.
* **Proposal**: ``leukodet.api.propose`` on ``--fields`` synthetic 640² fields with the bundled ``synth-n``, for
  each score; seconds per field, model prediction included (``flip`` predicts each field twice).

    .venv/bin/python benchmarks/patch_labelling.py [--page-runs 5] [--fields 20] [--scores random,entropy,...]

Prints one JSON line and saves benchmarks/results/patch_labelling.json. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from result_file import publish

from leukodet import api

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/serve/test_patch_page.py::test_label_a_patch_in_chromium"


def page_seconds(runs: int, work: Path) -> list[float]:
    """Seconds per patch of each browser-test run (a failed run is an error, not a figure)."""
    timing = work / "timing.jsonl"
    env = {**os.environ, "LEUKODET_PATCH_TIMING": str(timing)}
    for _ in range(runs):
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-p", "no:cacheprovider", TEST]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the browser test failed:\n{done.stdout[-2000:]}")
    rows = [json.loads(line) for line in timing.read_text().splitlines()]
    if len(rows) != runs:
        raise SystemExit(f"{len(rows)} timings for {runs} runs: was the test skipped (no Chromium)?")
    return [r["seconds_per_patch"] for r in rows]


def proposal_seconds(scores: list[str], fields: int, work: Path) -> dict[str, float]:
    """Seconds per field of ``propose`` for each score (the first call, model load, is not counted)."""
    images = api.synth(work / "fields", images=fields, seed=0, size=640, overwrite=True)
    sources = sorted(p for p in Path(images).parent.rglob("*.png"))[:fields]
    api.propose("synth-n", sources[:1], work / "warm", score="random", overwrite=True)
    out = {}
    for score in scores:
        start = time.perf_counter()
        api.propose("synth-n", sources, work / score, score=score, overwrite=True)
        out[score] = round((time.perf_counter() - start) / len(sources), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--page-runs", type=int, default=5)
    p.add_argument("--fields", type=int, default=20)
    p.add_argument("--scores", default="random,entropy,band,flip,unsure")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seconds = page_seconds(args.page_runs, work)
        propose = proposal_seconds(args.scores.split(","), args.fields, work)
    publish("patch_labelling", {
        "benchmark": "patch_labelling", "cpu_cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "page": {"runs": len(seconds), "actions_per_patch": 8, "seconds_per_patch": seconds,
                 "median": round(statistics.median(seconds), 3),
                 "per_action_median": round(statistics.median(seconds) / 8, 3)},
        "propose": {"model": "synth-n", "fields": args.fields, "field_px": 640, "seconds_per_field": propose},
    })  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
