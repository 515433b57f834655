"""Benchmark: rescore the two models of ``bccd_peer`` on BCCD test with and without the label audit.

BCCD's official labels miss whole white cells on some test images (``bccd_test_audit.json`` lists them, found by
viewing every test image). A detector that finds such a cell is charged a false positive, so WBC AP50 on the raw
labels partly measures how *low* a model scores real, unlabelled cells. This script re-scores the models that
``bccd_peer.py`` trained (its work folder: ``leukodet/weights/best.pt`` and the peer's ``peer_test.json``) on the
raw test split and on the test split without the audited images, and lists, for each model, the score it gives
each unlabelled cell and its lowest-scored true WBC. No training happens here.

    .venv/bin/python benchmarks/bccd_audit.py [--work /tmp/leukodet-bccd-peer] [--sheets DIR]

Prints one JSON line and saves it to benchmarks/results/bccd_audit.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bccd_peer import _leukodet_preds, _peer_preds, _score, audited_out
from PIL import Image, ImageDraw
from result_file import publish

from leukodet.infer.predictor import Detector
from leukodet.records import load_source
from leukodet.records.prediction import Prediction


def _wbc_scores(preds: dict[str, Prediction], out: frozenset[str]) -> dict[str, float]:
    """Highest WBC score each model gives on each audited image (that image has no WBC label at all)."""
    best = {}
    for name in sorted(out):
        p = preds[name]
        scores = [float(s) for s, c in zip(p.scores, p.class_ids) if p.class_names[c] == "WBC"]
        best[name] = round(max(scores, default=0.0), 3)
    return best


def _contact_sheets(data: Path, dest: Path, per_sheet: int = 12) -> None:
    """Every test image at 320x240, its WBC label boxes in red: what the audit was made from."""
    dest.mkdir(parents=True, exist_ok=True)
    records = load_source(data)[0].split("test")
    for start in range(0, len(records), per_sheet):
        sheet = Image.new("RGB", (4 * 320, 3 * 240), "white")
        for i, rec in enumerate(records[start : start + per_sheet]):
            im = Image.open(rec.path).convert("RGB")
            draw = ImageDraw.Draw(im)
            for cell in rec.cells:
                if cell.class_id == 2:
                    draw.rectangle(cell.box, outline=(255, 0, 0), width=5)
            im = im.resize((320, 240))
            ImageDraw.Draw(im).text((5, 5), rec.path.stem, fill=(0, 0, 0))
            sheet.paste(im, ((i % 4) * 320, (i // 4) * 240))
        sheet.save(dest / f"bccd_test_{start // per_sheet}.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/leukodet-bccd-peer")
    p.add_argument("--sheets", default=None, help="also write contact sheets of the test split here")
    args = p.parse_args()
    work = Path(args.work)
    data = work / "bccd" / "data.yaml"
    if args.sheets:
        _contact_sheets(data, Path(args.sheets))
    out = audited_out()
    test_imgs = sorted((work / "bccd" / "images" / "test").iterdir())
    models = {
        "leukodet": _leukodet_preds(Detector.load(work / "leukodet" / "weights" / "best.pt"), test_imgs),
        "ultralytics_8.4.190_yolov8n": _peer_preds(work / "peer_test.json"),
    }
    result: dict = {
        "benchmark": "bccd_audit",
        "images_left_out": sorted(out),
        "n_test_images": len(test_imgs),
    }
    for name, preds in models.items():
        raw, audited = _score(data, "test", preds), _score(data, "test", preds, out)
        result[name] = {
            "raw": {k: raw[k] for k in ("map50", "map50_95", "wbc_ap50", "wbc_ap50_95")},
            "audited": {k: audited[k] for k in ("map50", "map50_95", "wbc_ap50", "wbc_ap50_95")},
            "score_on_unlabelled_wbc": _wbc_scores(preds, out),
        }
    publish("bccd_audit", result)


if __name__ == "__main__":
    sys.exit(main())
