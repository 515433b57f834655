"""Benchmark (issue #23): the paper's Table 5 — detector alone, AttriDet, crop classifier and CBM, paired by seed.

Data: synthetic 14-class LLD fields with the 7 binary attributes (``--data synth``, scored on the test split) or
WBCAtt (``--data wbcatt``, 5 WBC types and 11 attributes, scored on val). Every arm starts from ``--model``
(default the bundled ``synth-n``) and trains a fixed number of epochs at the same seed:

* ``detector``: the detector alone (``train.attributes=false``);
* ``attridet``: detector + AttriHead in one run (paper Eq. 3);
* ``crop``: the ``detector`` arm's boxes, attributes from a crop classifier trained on the ground-truth crops
  (``train-crops``, ``--crop-epochs``) and run on the detections (``val --crop-model``);
* ``cbm``: the same with the type predicted from the predicted attributes only (concept bottleneck).

Per run: mAP50 / mAP50-95 of the white-cell classes (the paper's "WBC mAP" column: the mean AP over the classes
whose role is WBC), each attribute's F1 of the positive value (binary) or macro-F1, their mean, and the WBC type
accuracy / macro-F1. The type is scored on two bases, both reported: detector arms on the detections (each ground-
truth white cell's highest-IoU detection at conf 0.25 and IoU >= 0.5 gives its class; a miss counts wrong), crop arms by the
crop classifier on the ground-truth crops of the val split (its own training report). Paired differences with 95 %
intervals: ``attridet − detector`` (does the head help detection?), ``crop − attridet`` and ``cbm − attridet``.

    .venv/bin/python benchmarks/table5.py [--data synth|wbcatt] [--seeds 0,1,2] [--epochs 12] [--crop-epochs 20]
        [--work DIR] [--name NAME]

Fixed epochs and seeded batches make the figures load-independent; finished runs in ``--work`` are reused.
Prints one JSON line and saves benchmarks/results/table5_<data>.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from attrihead_switches import dataset
from result_file import publish

from leukodet import api
from leukodet.eval.attributes import attribute_scores, match_cells
from leukodet.eval.paired import paired_difference
from leukodet.infer.predictor import Detector
from leukodet.records.roles import WBC, class_roles
from leukodet.records.sources import load_source

ARMS = ("detector", "attridet", "crop", "cbm")
PAPER = {  # Table 5 of the paper (HCM_100x_C2 test set): F1 per attribute and WBC mAP50-95, in percent
    "CBM": {"nuclear_chromatin": 21.9, "nuclear_shape": 96.2, "nucleoli": 41.8, "cytoplasm": 77.2,
            "cytoplasmic_basophilia": 70.2, "cytoplasmic_vacuoles": 3.33, "wbc_map50_95": 27.6},
    "AttriDet": {"nuclear_chromatin": 73.9, "nuclear_shape": 95.9, "nucleoli": 54.3, "cytoplasm": 89.7,
                 "cytoplasmic_basophilia": 83.6, "cytoplasmic_vacuoles": 29.1, "wbc_map50_95": 28.2},
    "YOLOv5 (detector alone)": {"wbc_map50_95": 26.3},
}  # fmt: skip


def detector_run(args: argparse.Namespace, data: Path, work: Path, seed: int, head: bool) -> Path:
    run = work / f"{'attridet' if head else 'detector'}_s{seed}"
    last = run / "weights" / "last.pt"
    if not last.exists() or len(list((run / "results.csv").open())) - 1 < args.epochs:
        api.train(data, model=args.model, epochs=args.epochs, imgsz=args.imgsz, batch=16, out=run, seed=seed,
                  recipe=args.recipe, progress=False, resume=last.exists(),
                  overrides=["train.plots=false", *([] if head else ["train.attributes=false"])])  # fmt: skip
    return last


def type_scores(weights: Path, data: Path, split: str, imgsz: int) -> dict:
    """Accuracy / macro-F1 of the WBC type of each ground-truth white cell through its highest-IoU detection
    at the prediction threshold (conf 0.25, IoU >= 0.5; a miss counts wrong)."""
    ds, _ = load_source(data)
    roles = class_roles(ds.classes)
    wbc = [k for k, r in enumerate(roles) if r == WBC]
    records = [r for r in ds.records if r.split == split]
    preds = Detector.load(weights).predict([str(r.path) for r in records], imgsz=imgsz)  # conf 0.25
    true, pred, iou = [], [], []
    for rec, p in zip(records, preds):
        for cell, (j, o) in zip(rec.cells, match_cells(rec, p)):
            if cell.class_id in wbc:
                true.append(wbc.index(cell.class_id))
                k = int(p.class_ids[j]) if j >= 0 and o >= 0.5 else -1
                pred.append(wbc.index(k) if k in wbc else -1)
                iou.append(o)
    m = attribute_scores(np.array(true), np.array(pred), len(wbc), np.array(iou))
    return {"type_accuracy": m["accuracy"], "type_macro_f1": m["macro_f1"]}


def detection_scores(m: dict, data: Path) -> dict:
    ds, _ = load_source(data)
    wbc = [c for c, r in zip(ds.classes, class_roles(ds.classes)) if r == WBC and c in m["per_class"]]
    per = [m["per_class"][c] for c in wbc if m["per_class"][c].get("n_gt")]
    attrs = {
        k: (v["f1"] if v["f1"] is not None else v["macro_f1"]) for k, v in (m.get("attributes") or {}).items()
    }
    return {
        "map50": m["map50"], "map50_95": m["map50_95"],
        "wbc_map50": statistics.mean(x["ap50"] for x in per), "wbc_map50_95": statistics.mean(x["ap50_95"] for x in per),
        "attribute_f1": attrs, "attribute_f1_mean": statistics.mean(attrs.values()) if attrs else None,
    }  # fmt: skip


def one_seed(args: argparse.Namespace, data: Path, split: str, work: Path, seed: int) -> list[dict]:
    rows = []
    for head in (False, True):
        weights = detector_run(args, data, work, seed, head)
        m = api.val(weights, data, split=split, imgsz=args.imgsz)
        arm = "attridet" if head else "detector"
        rows.append(
            {
                "arm": arm,
                "seed": seed,
                **detection_scores(m, data),
                **type_scores(weights, data, split, args.imgsz),
            }
        )
    detector = work / f"detector_s{seed}" / "weights" / "last.pt"
    for arm, type_from in (("crop", "image"), ("cbm", "attributes")):
        crop = api.train_crops(data, work / f"{arm}_s{seed}", crop={"type_from": type_from, "imgsz": args.imgsz},
                               epochs=args.crop_epochs, seed=seed, resume=True)  # fmt: skip
        m = api.val(detector, data, split=split, imgsz=args.imgsz, crop_model=crop["weights"])
        typ = {k: crop["val"].get(k) for k in ("type_accuracy", "type_macro_f1")}
        rows.append({"arm": arm, "seed": seed, **detection_scores(m, data), **typ})
    return rows


def summarise(runs: list[dict]) -> dict:
    keys = (
        "map50",
        "map50_95",
        "wbc_map50",
        "wbc_map50_95",
        "attribute_f1_mean",
        "type_accuracy",
        "type_macro_f1",
    )
    out: dict = {}
    for arm in ARMS:
        rows = [r for r in runs if r["arm"] == arm]
        out[arm] = {
            k: {
                "mean": round(statistics.mean(vals), 4),
                "sd": round(statistics.stdev(vals), 4) if len(vals) > 1 else None,
            }
            for k in keys
            if (vals := [r[k] for r in rows if r.get(k) is not None])
        }
    by = {arm: {r["seed"]: r for r in runs if r["arm"] == arm} for arm in ARMS}
    pairs = {"attridet-detector": ("attridet", "detector", ("map50", "map50_95", "wbc_map50_95")),
             "crop-attridet": ("crop", "attridet", ("attribute_f1_mean",)),
             "cbm-attridet": ("cbm", "attridet", ("attribute_f1_mean",))}  # fmt: skip
    out["paired"] = {name: {k: paired_difference({s: r[k] for s, r in by[a].items()}, {s: r[k] for s, r in by[b].items()})
                            for k in ks} for name, (a, b, ks) in pairs.items()}  # fmt: skip
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["synth", "wbcatt"], default="synth")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--crop-epochs", type=int, default=20)
    p.add_argument("--model", default="synth-n")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--imgsz", type=int, default=None, help="default: 256 (synth), 320 (wbcatt)")
    p.add_argument("--recipe", default="short", help="the detector runs' recipe (few steps an epoch: AdamW)")
    p.add_argument("--work", default=None)
    p.add_argument("--name", default=None)
    args = p.parse_args()
    args.imgsz = args.imgsz or (256 if args.data == "synth" else 320)
    work = Path(args.work or f"/tmp/leukodet-table5-{args.data}")
    data, split = dataset(args, work)
    runs = [
        row
        for seed in (int(s) for s in args.seeds.split(","))
        for row in one_seed(args, data, split, work, seed)
    ]
    publish(args.name or f"table5_{args.data}", {
        "benchmark": "table5", "data": args.data, "split": split, "imgsz": args.imgsz, "start": args.model,
        "epochs": args.epochs, "crop_epochs": args.crop_epochs, "recipe": args.recipe,
        "seeds": args.seeds, "summary": summarise(runs), "paper": PAPER, "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
