"""Benchmark: are validation curves stable? Per-epoch val mAP of seeded runs, with per-step diagnostics.

Trains leukodet ``n`` (imgsz 416, batch 16, ``--time`` budget, short recipe: the setting of the issue that
found val mAP50 collapsing and recovering between epochs) on one data set for several seeds and records:

* per epoch: val mAP50 / mAP50-95 of the EMA weights (what ``train`` validates and keeps), and with
  ``--diagnose`` also of the raw weights in eval mode and of the raw weights with BatchNorm statistics
  recomputed on training batches (tells stale BN running statistics from bad weights), the EMA decay, the
  largest BN running-variance ratio between raw and EMA weights;
* per step (``--diagnose``): loss terms, gradient norm before clipping (and whether it clipped), LR;
* with ``--other-view``: the val curve the same run would have logged with BatchNorm recalibrated on the other
  view of the same images (``train.bn_recalibration_images`` plain ↔ augmented; evaluation never changes
  training, so one run gives both curves, paired exactly).

The stability rule of the issue: once val mAP50 first passes 0.5, no later epoch falls more than 20 %
(relative) below the best so far. The JSON says per seed whether it holds and the worst relative drop.

    .venv/bin/python benchmarks/train_stability.py --data bccd --seeds 0,1,2 --minutes 15 --tag after
    .venv/bin/python benchmarks/train_stability.py --data synth --seeds 0,1,2 --epochs 30 --imgsz 320 --tag after

Prints one JSON line and saves benchmarks/results/train_stability_<data>_<tag>.json. Runs are resumable: a
seed whose run folder holds a finished ``results.csv`` is read back, not retrained.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
from pathlib import Path
from typing import Any

import torch
import yaml
from adapt_confmix import _wbc_only
from result_file import publish

from leukodet import api
from leukodet.config import load_config
from leukodet.engine.batchnorm import recalibrate_batchnorm, recalibration_indices
from leukodet.engine.hooks import PreciseBatchNorm
from leukodet.records.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _collapse_wbc_types(root: Path) -> None:
    """Name every LLD WBC type of a synthetic COCO data set ``WBC`` (RBC and Platelet kept): a BCCD-like
    three-class task that a short run can learn (the 14-type task stays under 0.5 mAP50 on this budget)."""
    for ann in (root / "annotations").glob("*.json"):
        doc = json.loads(ann.read_text())
        names = {c["id"]: c["name"] for c in doc["categories"]}
        new = {"WBC": 1, "RBC": 2, "Platelet": 3}
        for a in doc["annotations"]:
            a["category_id"] = new.get(names[a["category_id"]], 1)
        doc["categories"] = [{"id": i, "name": n, "supercategory": "cell"} for n, i in new.items()]
        atomic_write_text(ann, json.dumps(doc))
    meta = yaml.safe_load((root / "data.yaml").read_text())
    meta["names"] = ["WBC", "RBC", "Platelet"]
    atomic_write_text(root / "data.yaml", yaml.safe_dump(meta, sort_keys=False))


def prepare(name: str, work: Path, images: int) -> Path:
    """The data set YAML: BCCD (official splits), BCDD (fixed 80/20 split), ``images`` synthetic fields (``synth``:
    WBC, RBC, Platelet) or ``images`` synthetic fields with white cells only, one class ``WBC`` (``synth-wbc``)."""
    if name == "bccd":
        data = work / "bccd" / "data.yaml"
        if not data.exists():
            api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "yolo", overwrite=True)
        return data
    if name == "synth":
        data = work / f"synth{images}" / "data.yaml"
        if not data.exists():
            api.synth(data.parent, images=images, seed=0, overwrite=True, label_rbc=True)
            _collapse_wbc_types(data.parent)
        return data
    if name == "synth-wbc":
        data = work / f"synth{images}-wbc" / "data.yaml"
        if not data.exists():
            api.synth(data.parent, images=images, seed=0, overwrite=True)
            _wbc_only(data.parent)
        return data
    if name == "bcdd":
        data = work / "bcdd" / "split.yaml"
        if not data.exists():
            _split_bcdd(work / "bcdd", data)
        return data
    raise SystemExit(f"unknown data set {name!r}: bccd, bcdd, synth or synth-wbc")


def _split_bcdd(root: Path, data: Path) -> None:
    """BCDD (one split) as YOLO files with a fixed 80/20 train/val split: every fifth image by name is val.
    Only for this stability benchmark: no shipped or compared model trains on BCDD (the cross-lab check)."""
    converted = api.convert(SHARED / "bcdd", root, "yolo", overwrite=True)
    meta = yaml.safe_load(Path(converted).read_text())
    images = sorted(p.relative_to(root).as_posix() for p in (root / "images").rglob("*.png"))
    lists = {"train": [im for i, im in enumerate(images) if i % 5], "val": images[::5]}
    for split, names in lists.items():
        atomic_write_text(root / f"{split}.txt", "\n".join(names) + "\n")
    doc = {"names": meta["names"], "train": "train.txt", "val": "val.txt"}
    atomic_write_text(data, yaml.safe_dump(doc, sort_keys=False))


def stability(curve: list[float], threshold: float = 0.5, max_drop: float = 0.2) -> dict[str, Any]:
    """The issue's rule on a val mAP50 curve: after it first passes ``threshold``, no epoch below
    ``(1 - max_drop) * best so far``. Returns the worst relative drop after that point and the epochs that broke
    the rule (1-based). A curve that never passes ``threshold`` does not pass (``reached`` false): the rule
    would hold vacuously."""
    best, armed, worst, broken = -math.inf, False, 0.0, []
    for epoch, value in enumerate(curve, 1):
        if armed and best > 0:
            drop = 1.0 - value / best
            worst = max(worst, drop)
            if drop > max_drop:
                broken.append(epoch)
        best = max(best, value)
        armed = armed or value > threshold
    return {
        "passes": armed and not broken,
        "reached": armed,
        "worst_relative_drop": round(worst, 4),
        "broken_epochs": broken,
    }


class Diagnostics:
    """Hooks into one run: per-step gradient norms and per-epoch alternative evaluations."""

    def __init__(self, trainer: Any) -> None:
        self.trainer, self.steps, self.epochs = trainer, [], []
        self._clip = torch.nn.utils.clip_grad_norm_

        def clip(params: Any, max_norm: float, *a: Any, **k: Any) -> torch.Tensor:
            norm = self._clip(params, max_norm, *a, **k)
            opt = trainer.optimizer
            self.steps.append(
                {
                    "iteration": trainer.state.iteration,
                    "grad_norm": round(float(norm), 4),
                    "clipped": bool(float(norm) > max_norm),
                    "lr": opt.param_groups[1]["lr"],
                }
            )
            return norm

        torch.nn.utils.clip_grad_norm_ = clip

    def close(self) -> None:
        torch.nn.utils.clip_grad_norm_ = self._clip

    def recalibrated(self, model: torch.nn.Module, batches: int = 8) -> torch.nn.Module:
        """A copy of ``model`` whose BN running statistics are recomputed (cumulative average) on training
        batches without augmentation changes."""
        twin = copy.deepcopy(model)
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        twin.train()
        with torch.no_grad():
            for i, batch in enumerate(self.trainer.train_loader):
                if i >= batches:
                    break
                twin(batch.images.to(self.trainer.device))
        return twin.eval()

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        return evaluate(self.trainer, model)

    def after_epoch(self) -> None:
        t = self.trainer
        raw = copy.deepcopy(t.model).eval()
        entry = {
            "epoch": t.epoch,
            "ema_decay": round(t.ema.current_decay(), 4),
            "ema_updates": t.ema.updates,
            "raw_eval": self.evaluate(raw),
            "raw_bn_recalibrated": self.evaluate(self.recalibrated(t.model)),
        }
        ratios = []
        for (name, a), b in zip(t.model.named_buffers(), t.ema.module.buffers()):
            if name.endswith("running_var"):
                ratios.append(float((a / b.clamp(min=1e-6)).max()))
        entry["bn_var_ratio_raw_over_ema_max"] = round(max(ratios), 3) if ratios else None
        entry.update(self.ema_bn_sources())
        self.epochs.append(entry)

    def ema_bn_sources(self) -> dict[str, dict[str, float]]:
        """The EMA weights with their BN statistics recomputed from other images than the trainer's: another
        draw of augmented training batches (how much the estimate depends on the draw) and the same training
        images without augmentation, letterboxed as at validation (augmented vs plain statistics)."""
        t, tc = self.trainer, self.trainer.cfg.train
        other = recalibration_indices(len(t.train_set), tc.bn_recalibration, tc.batch, tc.seed + 1, t.epoch)
        out, epoch = {}, t.train_set.epoch
        twin = copy.deepcopy(t.ema.module)
        try:
            t.train_set.epoch = epoch + 10_000  # other augmentation draws of the same images
            recalibrate_batchnorm(twin, t.train_set, other, t.device)
        finally:
            t.train_set.epoch = epoch
        out["ema_bn_other_draw"] = self.evaluate(twin.eval())
        out["ema_bn_plain"] = evaluate(t, ema_with_statistics_of(t, "plain"))
        return out


def evaluate(trainer: Any, model: torch.nn.Module) -> dict[str, float]:
    """Val mAP50 / mAP50-95 of ``model`` as the trainer validates."""
    from leukodet.infer.evaluate import evaluate_detector
    from leukodet.infer.predictor import Detector

    t = trainer
    head = t.data.schema.to_mapping() if getattr(model, "attribute_head", None) is not None else None
    det = Detector.of_network(model, t.data.classes, t.cfg.train.imgsz, head, t.device)
    m = evaluate_detector(det, t.val_loader, t.data.val, t.data.classes)
    return {"map50": round(m["map50"], 4), "map50_95": round(m["map50_95"], 4)}


def ema_with_statistics_of(trainer: Any, view: str) -> torch.nn.Module:
    """A copy of the EMA weights, in eval mode, with BN statistics recomputed as the trainer's precise-BN hook
    does (same batches) but from the ``view`` (``plain`` or ``augmented``) of those images."""
    twin = copy.deepcopy(trainer.ema.module)
    recalibrate_batchnorm(
        twin, PreciseBatchNorm.images(trainer, view), PreciseBatchNorm.batches(trainer), trainer.device
    )
    return twin.eval()


class OtherView:
    """Per validated epoch, the EMA weights with BN statistics recomputed from the *other* view of the same
    recalibration images than the run's ``train.bn_recalibration_images`` (plain ↔ augmented). Evaluation never
    changes training, so this is exactly the val curve the run would have logged with the other setting."""

    def __init__(self, trainer: Any) -> None:
        self.trainer, self.curve, self.curve_95 = trainer, [], []
        self.view = "augmented" if trainer.cfg.train.bn_recalibration_images == "plain" else "plain"

    def after_epoch(self) -> None:
        m = evaluate(self.trainer, ema_with_statistics_of(self.trainer, self.view))
        self.curve.append(m["map50"])
        self.curve_95.append(m["map50_95"])


def run_seed(
    data: Path,
    out: Path,
    seed: int,
    minutes: float | None,
    epochs: int,
    imgsz: int,
    diagnose: bool,
    sets: list[str],
    other_view: bool = False,
) -> dict:
    from leukodet.engine.trainer import Trainer

    done = out / "stability.json"
    if done.exists():
        return json.loads(done.read_text())
    from leukodet.config import apply_overrides

    cfg = apply_overrides(
        load_config(None, sets),
        {
            "data": str(data),
            "model": "n",
            "out": str(out),
            "train.epochs": epochs,
            "train.imgsz": imgsz,
            "train.batch": 16,
            "train.time_minutes": minutes,
            "train.seed": seed,
            "train.recipe": "short",
            "train.plots": False,
        },
    )
    trainer = Trainer(cfg, progress=False)
    diag = Diagnostics(trainer) if diagnose else None
    other = OtherView(trainer) if other_view else None
    from leukodet.engine.hooks import Hook, Validate

    class Diagnose(Hook):  # validate also the raw weights and BN-recalibrated copies after every epoch
        def after_epoch(self, trainer: Any, end: Any) -> None:
            for extra in (diag, other):
                if end.metrics and extra is not None:  # the validated epochs
                    extra.after_epoch()

    after = next(i for i, h in enumerate(trainer.hooks) if isinstance(h, Validate)) + 1
    trainer.hooks.insert(after, Diagnose())
    try:
        summary = trainer.fit()
    finally:
        if diag is not None:
            diag.close()
    rows = list(csv.DictReader(open(out / "results.csv")))
    curve = [float(r["val/map50"]) for r in rows]
    result = {
        "seed": seed,
        "epochs": len(rows),
        "val_map50": [round(v, 4) for v in curve],
        "val_map50_95": [round(float(r["val/map50_95"]), 4) for r in rows],
        "train_loss_obj": [round(float(r["train/loss_obj"]), 4) for r in rows],
        "lr": [float(r["lr"]) for r in rows],
        "stability": stability(curve),
        "best_map50": round(max(curve), 4),
        "final_map50": round(curve[-1], 4),
        "seconds": summary["seconds"],
    }
    if diag is not None:
        result["per_epoch"] = diag.epochs
        result["per_step"] = diag.steps
    if other is not None:
        result[f"val_map50_bn_{other.view}"] = other.curve
        result[f"val_map50_95_bn_{other.view}"] = other.curve_95
    done.write_text(json.dumps(result))
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="bccd", choices=["bccd", "bcdd", "synth", "synth-wbc"])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--minutes", type=float, default=None, help="time budget per run (else --epochs fixed)")
    p.add_argument("--epochs", type=int, default=36, help="epochs per run (an upper bound with --minutes)")
    p.add_argument("--tag", default="after", help="name of this measurement (before/after a change)")
    p.add_argument("--diagnose", action="store_true", help="per-step and per-epoch diagnostics")
    p.add_argument("--other-view", action="store_true",
                   help="also the val curve with BN recalibrated on the other view (plain <-> augmented)")  # fmt: skip
    p.add_argument("--set", dest="sets", action="append", default=[], help="config override key=value")
    p.add_argument("--work", default="/tmp/leukodet-stability")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--images", type=int, default=150, help="synthetic fields (with --data synth)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = prepare(args.data, work, args.images)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [
        run_seed(
            data,
            work / f"{args.data}-{args.tag}-s{s}",
            s,
            args.minutes,
            args.epochs,
            args.imgsz,
            args.diagnose,
            args.sets,
            args.other_view,
        )
        for s in seeds
    ]
    for r in runs:  # recomputed, so that cached runs get the current rule; 0.2: for curves that stay low
        r["stability"] = stability(r["val_map50"])
        r["stability_after_0.2"] = stability(r["val_map50"], threshold=0.2)
        for view in ("plain", "augmented"):
            if f"val_map50_bn_{view}" in r:
                r[f"stability_bn_{view}"] = stability(r[f"val_map50_bn_{view}"])
    result = {
        "benchmark": "train_stability",
        "data": args.data,
        "tag": args.tag,
        "minutes": args.minutes,
        "epochs": args.epochs if args.minutes is None else None,
        "imgsz": args.imgsz,
        "images": args.images if args.data.startswith("synth") else None,
        "model": "n",
        "recipe": "short",
        "overrides": args.sets,
        "rule": "after val mAP50 first passes 0.5, no epoch more than 20 % (relative) below the best so far",
        "all_pass": all(r["stability"]["passes"] for r in runs),
        "runs": runs,
    }
    publish(f"train_stability_{args.data}_{args.tag}", result)


if __name__ == "__main__":
    main()
