"""Diagnostic: does a checkpoint's class head tell white cells from red ones? (issue #17, pretraining runs)

For each checkpoint, the val fields of the pretraining corpus's 100x domains are letterboxed (no augmentation),
the ground truth is assigned to cells exactly as in training (``DetectionCriterion.assign``), and the model's
``WBC`` probability (the parent class's sigmoid, no objectness; for a flat model the highest WBC-type
probability) is read at every cell assigned to a WBC type and
at every cell assigned to a red cell. The figure is the AUROC of that probability, WBC cells against red-cell
cells: 0.5 means the class head cannot tell them apart (what the failed runs show), 1.0 means it always can.
Mean probabilities of both groups are reported beside it.

    .venv/bin/python benchmarks/wbc_discrimination.py --data runs/pretrain3/corpus/data.yaml \\
        --weights A.pt [B.pt ...] [--labels a,b] [--fields 24] [--name wbc_discrimination]

Prints one JSON line and saves benchmarks/results/<name>.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from result_file import publish

from leukodet.data.dataset import DetectionDataset
from leukodet.data.sample import collate
from leukodet.infer.validate import load_split
from leukodet.losses.criterion import DetectionCriterion
from leukodet.model.checkpoint import load_checkpoint
from leukodet.model.config import ModelConfig
from leukodet.model.detector import create_model_from_config
from leukodet.records.vocab import GENERIC_WBC, LLD_WBC_TYPES


def auroc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(a random positive scores above a random negative), ties counted half (Mann-Whitney U)."""
    scores = torch.cat([pos, neg])
    ranks = torch.empty_like(scores)
    order = scores.argsort()
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    for value in scores.unique():  # average ranks of ties
        tied = scores == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def measure(weights: Path, data: Path, fields: int, imgsz: int) -> dict:
    ckpt = load_checkpoint(weights)
    meta = ckpt["metadata"]
    model = create_model_from_config(ModelConfig.from_dict(meta["model_config"]))
    model.load_state_dict(ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"])
    model.eval()
    names = list(meta["classes"])
    ds, records = load_split(data, "val")
    records = [r for r in records if "100x" in r.domain.name][:fields]
    dataset = DetectionDataset(records, len(ds.classes), ds.attributes, imgsz, None)
    crit = DetectionCriterion(_loss(meta), len(names), imgsz)
    wbc_types = torch.tensor([ds.classes.index(n) for n in LLD_WBC_TYPES])
    rbc = ds.classes.index("RBC")
    type_cols = [names.index(n) for n in LLD_WBC_TYPES]
    pos, neg = [], []
    for start in range(0, len(dataset), 4):
        batch = collate([dataset[i] for i in range(start, min(start + 4, len(dataset)))])
        with torch.no_grad():
            out = model(batch.images)
        assigned = crit.assign(out.levels, out.anchors, torch.tensor(out.strides), batch.targets)
        for level, lt in zip(out.levels, assigned):
            probs = level[lt.batch, lt.anchor, lt.gy, lt.gx, 5:].sigmoid()
            p = probs[:, names.index(GENERIC_WBC)] if GENERIC_WBC in names else probs[:, type_cols].amax(1)
            pos.append(p[torch.isin(lt.cls, wbc_types)])
            neg.append(p[lt.cls == rbc])
    pos_t, neg_t = torch.cat(pos), torch.cat(neg)
    return {
        "weights": str(weights),
        "auroc_wbc_vs_rbc": round(auroc(pos_t, neg_t), 4),
        "mean_wbc_prob_at_wbc_cells": round(float(pos_t.mean()), 4),
        "mean_wbc_prob_at_rbc_cells": round(float(neg_t.mean()), 4),
        "wbc_cells": len(pos_t),
        "rbc_cells": len(neg_t),
    }


def _loss(meta: dict):
    from leukodet.config import LossConfig

    loss = dict(meta["config"]["loss"])
    loss["obj_balance"] = tuple(loss["obj_balance"])
    return LossConfig(**loss)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--weights", nargs="+", required=True, type=Path)
    p.add_argument("--labels", default=None, help="comma-separated labels, one per checkpoint")
    p.add_argument("--fields", type=int, default=24)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--name", default="wbc_discrimination")
    args = p.parse_args()
    torch.set_num_threads(1)
    labels = args.labels.split(",") if args.labels else [w.name for w in args.weights]
    result = {
        "benchmark": "wbc_discrimination",
        "data": str(args.data),
        "split": "val, 100x domains",
        "fields": args.fields,
        "runs": {
            label: measure(w, args.data, args.fields, args.imgsz) for label, w in zip(labels, args.weights)
        },
    }
    publish(args.name, result)


if __name__ == "__main__":
    main()
