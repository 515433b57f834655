"""Benchmark: annotation transfer (``leukodet transfer``) on fields warped with known homographies.

Three sets, each pair a field and the same field seen through a random known warp (scale 0.8–1.25, rotation
±15°, shift ±40 px, perspective ±8e-5): synthetic LLD fields (HCM/LCM 100x, HCM 40x; 800 px), real BCCD
test fields with their VOC boxes, and the six real LeukemiaAttri samples with a grid of boxes, the target
degraded like a low-cost microscope with a phone camera (LCM_100x_C1). Box error = largest coordinate
difference between the estimated and the true mapping, over boxes the true map keeps wholly inside the
target. Also: how many unrelated pairs (consecutive BCCD test fields, distinct synthetic fields) are refused.

    .venv/bin/python benchmarks/transfer_accuracy.py [--seed 0]

Prints one JSON line and saves benchmarks/results/transfer_accuracy.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from result_file import publish

from leukodet.domains.images import read_rgb
from leukodet.domains.known import box_errors, known_homography, warp
from leukodet.domains.labels import ImageLabels, read_image_labels
from leukodet.domains.transfer import transfer_labels
from leukodet.records import AttributeSchema, Cell, ImageRecord
from leukodet.synth import render_field
from leukodet.synth.domains import degrade, domain_params

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / "shared" / "data" / "bccd" / "BCCD"
LLD = ROOT.parent / "shared" / "data" / "lld-samples"
SYNTH_DOMAINS = ("HCM_100x_C2", "LCM_100x_C2", "HCM_40x_C2")


def _random_h(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    return known_homography(
        w, h, float(rng.uniform(0.8, 1.25)), float(rng.uniform(-15, 15)), tuple(rng.uniform(-40, 40, 2)),
        tuple(rng.uniform(-8e-5, 8e-5, 2)),
    )  # fmt: skip


def _labels(w: int, h: int, boxes: list[tuple[float, float, float, float]]) -> ImageLabels:
    rec = ImageRecord(Path("source.png"), w, h, "all", tuple(Cell(b, 0) for b in boxes), None)
    return ImageLabels(rec, ["cell"], AttributeSchema(), "yolo", "benchmark")


def _pair(image: np.ndarray, target: np.ndarray, labels: ImageLabels, h: np.ndarray) -> dict:
    start = time.perf_counter()
    res = transfer_labels(image, target, labels, Path("target.png"))
    seconds = time.perf_counter() - start
    boxes = [c.box for c in labels.record.cells]
    w, hh = image.shape[1], image.shape[0]
    errors = box_errors(boxes, h, res.estimate.homography, w, hh) if res.accepted else []
    return {"accepted": res.accepted, "errors": errors, "seconds": seconds, "inliers": res.estimate.inliers}


def _summary(pairs: list[dict]) -> dict:
    errors = [e for p in pairs for e in p["errors"]]
    return {
        "pairs": len(pairs),
        "accepted": sum(p["accepted"] for p in pairs),
        "boxes": len(errors),
        "median_box_error_px": round(statistics.median(errors), 3) if errors else None,
        "max_box_error_px": round(max(errors), 3) if errors else None,
        "boxes_within_2px": round(sum(e <= 2.0 for e in errors) / len(errors), 4) if errors else None,
        "min_inliers": min(p["inliers"] for p in pairs),
        "seconds_per_pair": round(statistics.mean(p["seconds"] for p in pairs), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    synth = []
    for i, domain in enumerate(SYNTH_DOMAINS * 2):
        f = render_field(100 + i, domain, 800)
        h = _random_h(rng, 800, 800)
        synth.append(_pair(f.image, warp(f.image, h), _labels(800, 800, [c.box for c in f.cells]), h))
    test_ids = (BCCD / "ImageSets" / "Main" / "test.txt").read_text().split()
    bccd = []
    for stem in test_ids[::3]:
        path = BCCD / "JPEGImages" / f"{stem}.jpg"
        labels = read_image_labels(BCCD / "Annotations" / f"{stem}.xml", path)
        image = read_rgb(path)
        h = _random_h(rng, image.shape[1], image.shape[0])
        bccd.append(_pair(image, warp(image, h), labels, h))
    lld = []
    for path in sorted(LLD.glob("*.png")):
        image = read_rgb(path)
        w, hh = image.shape[1], image.shape[0]
        h = _random_h(rng, w, hh)
        target = degrade(warp(image, h).astype(np.float32), domain_params("LCM_100x_C1"), rng)
        grid = [
            (float(x), float(y), x + 50.0, y + 60.0)
            for x in range(40, w - 100, 90)
            for y in range(40, hh - 100, 90)
        ]
        lld.append(_pair(image, target, _labels(w, hh, grid), h))
    unrelated = []
    for a, b in zip(test_ids[:20:2], test_ids[1:20:2]):
        ia, ib = read_rgb(BCCD / "JPEGImages" / f"{a}.jpg"), read_rgb(BCCD / "JPEGImages" / f"{b}.jpg")
        unrelated.append(transfer_labels(ia, ib, _labels(ia.shape[1], ia.shape[0], []), Path("t.png")))
    for i in range(5):
        ia, ib = (
            render_field(200 + i, "HCM_100x_C2", 800).image,
            render_field(300 + i, "HCM_100x_C2", 800).image,
        )
        unrelated.append(transfer_labels(ia, ib, _labels(800, 800, []), Path("t.png")))
    publish(
        "transfer_accuracy",
        {
            "benchmark": "transfer_accuracy",
            "seed": args.seed,
            "synthetic": _summary(synth),
            "bccd_real": _summary(bccd),
            "lld_real_degraded": _summary(lld),
            "unrelated": {
                "pairs": len(unrelated),
                "refused": sum(not r.accepted for r in unrelated),
                "max_inliers": max(r.estimate.inliers for r in unrelated),
            },
        },
    )


if __name__ == "__main__":
    sys.exit(main())
