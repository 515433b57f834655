"""Draw what models box on a labelled set's fields: one row per model, ground-truth boxes of a class in green,
the model's boxes of that class (conf >= 0.25) in magenta. Used for docs/img/bcdd_localisation.jpg.

    .venv/bin/python benchmarks/box_figure.py --data ../shared/data/bcdd --split all \
        --fields image-25.png,image-70.png,image-61.png,image-90.png \
        --weights runs/generalisation/synthn40/seed0/weights/best.pt \
        --weights runs/generalisation/short40_labs/seed0/weights/best.pt --out docs/img/bcdd_localisation.jpg
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from leukodet import api
from leukodet.records.sources import load_source

TILE = 288


def _row(records: list, preds: Path | None, class_id: int, name: str) -> np.ndarray:
    tiles = []
    for rec in records:
        image = cv2.resize(cv2.imread(str(rec.path), cv2.IMREAD_COLOR), (TILE, TILE))
        sx, sy = TILE / rec.width, TILE / rec.height
        boxes = [(c.box, (0, 200, 0)) for c in rec.cells if c.class_id == class_id]
        if preds is not None:
            cells = json.loads((preds / f"{rec.path.stem}.json").read_text())["cells"]
            boxes += [(c["box"], (255, 0, 255)) for c in cells if c["class"] == name and c["score"] >= 0.25]
        for (x1, y1, x2, y2), colour in boxes:
            cv2.rectangle(image, (int(x1 * sx), int(y1 * sy)), (int(x2 * sx), int(y2 * sy)), colour, 2)
        tiles.append(image)
    return np.hstack(tiles)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="all")
    p.add_argument("--fields", required=True, help="comma-separated image file names")
    p.add_argument("--weights", action="append", default=[], help="one row per checkpoint (repeat)")
    p.add_argument("--class-name", default="WBC")
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    ds, _ = load_source(args.data)
    by_name = {r.path.name: r for r in ds.split(args.split)}
    records = [by_name[f] for f in args.fields.split(",")]
    class_id = list(ds.classes).index(args.class_name)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, weights in enumerate(args.weights or [None]):
            out = None
            if weights:
                out = Path(tmp) / str(k)
                api.predict(weights, [str(r.path) for r in records], out, imgsz=args.imgsz, annotate=False)
            rows.append(_row(records, out, class_id, args.class_name))
    gap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    figure = np.vstack([x for row in rows for x in (row, gap)][:-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), figure, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(json.dumps({"figure": str(args.out), "rows": args.weights, "fields": args.fields.split(",")}))


if __name__ == "__main__":
    main()
