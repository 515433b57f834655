"""``leukodet ablate``: the paper's sparse-annotation comparison as one resumable command.

Every (method, seed) pair — the sparse methods on the sparse dataset, and full-label training on ``full_data``
when given — is trained for the same budget and scored with its best.pt (chosen on the val split) on the sparse
dataset's **test** split, whose labels are complete (``sparsify`` leaves val and test alone). The budget is a
fixed epoch count (``epochs``: load-independent, what a comparison of methods needs) or wall-clock minutes.
With the two-phase protocol (:mod:`leukodet.engine.protocol`) phase 1 is trained once per seed and every
method's phase 2 starts from it. Each finished run is appended to ``OUT/ablation.json`` at once (atomically);
running the command again skips the finished runs and resumes an interrupted one from its ``last.pt``. With
``attributes`` the per-method attribute F1 (the paper's Table 9) is filled in too. The summary gives each
method's mean ± sd, its paired difference to ``naive`` and to ``region`` (same seed: same initialisation,
batch order and augmentation) with a 95 % interval, and whether the full-label runs had plateaued.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..eval.paired import by_seed, paired_difference
from ..records.files import atomic_write_text
from .protocol import TwoPhase
from .run_dir import RunDir, finished_epochs, resumable

__all__ = ["METHODS", "VARIANTS", "run_ablation", "summarise", "plateau"]

METHODS: tuple[str, ...] = ("naive", "region", "region+pl", "sladet", "crop")
"""Sparse methods compared; ``full`` is full-label training."""

CALIBRATED: tuple[str, ...] = ("sparse.confidence=calibrated", "sparse.pl_obj_norm=per_label", "sparse.t2=99")
"""Pseudo-labels on the per-class precision-calibrated confidence, their objectness averaged over the
pseudo-label cells (with D6's raw terms that far outweighs a labelled cell: :data:`GAINED`), and no
class-entropy filter: the calibrated precision already counts a wrong class as a miss, and with 4 sigmoid
classes t2 = 0.26 bits needs every other class under about 0.005: in a 12-epoch fine-tune of synth-n on the
synthetic sparse set about 120 detections per batch reached the calibrated t1 and t2 refused every one."""

GAINED: tuple[str, ...] = ("sparse.pl_weighting=gained",)
"""Pseudo-label terms after the detection gains (:func:`leukodet.losses.sparse.gained_pl_terms`): a
pseudo-labelled cell's class and box terms weigh 0.1 × a labelled cell's (raw: 6.7× and 2× with 4 classes),
and its ``per_label`` objectness 0.1 × (labelled-region cells / pseudo-label cells) of a labelled cell's (raw:
far more)."""

OBJ1: tuple[str, ...] = ("loss.obj_iou_ratio=0", *CALIBRATED[1:], *GAINED)
"""The other way to make Eq. 6's confidence reach t1: objectness trained towards 1 at labelled cells instead of
the IoU (:func:`leukodet.losses.detection.objectness_targets`), with the calibrated bundle's other switches."""

VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sladet-paper": ("sladet", ("sparse.triplet_sign=paper",)),
    "sladet-fixed": ("sladet", ("sparse.triplet_sign=fixed",)),
    "region+pl-calibrated": ("region+pl", CALIBRATED),
    "sladet-calibrated": ("sladet", CALIBRATED),
    "sladet-calibrated-d5": ("sladet", (*CALIBRATED[:1], *CALIBRATED[2:], "sparse.pl_obj_norm=all_cells")),
    "sladet-calibrated-t2": ("sladet", (*CALIBRATED[:2], "sparse.t2=0.26")),
    "sladet-calibrated-eq6": ("sladet", ("sparse.confidence=paper", *CALIBRATED[1:])),
    "region+pl-calibrated-gained": ("region+pl", (*CALIBRATED, *GAINED)),
    "sladet-calibrated-gained": ("sladet", (*CALIBRATED, *GAINED)),
    "sladet-fixed-calibrated-gained": ("sladet", ("sparse.triplet_sign=fixed", *CALIBRATED, *GAINED)),
    "region-obj1": ("region", OBJ1[:1]),
    "sladet-obj1": ("sladet", OBJ1),
    "sladet-obj1-only": ("sladet", OBJ1[:1]),
    "sparsedet": ("sparsedet", ()),
    "comining": ("comining", ()),
}
"""Named variants an ablation may also run: (method, extra config overrides). The two Eq. 10 hinge signs,
pseudo-labels that fire (:data:`CALIBRATED`, issue #22; ``-d5`` keeps the paper's D5 objectness normalisation
to measure that switch alone, ``-t2`` the paper's entropy ceiling, ``-eq6`` the paper's confidence;
``-gained`` adds :data:`GAINED`; ``sladet-fixed-calibrated-gained`` has both terms firing), the
objectness-towards-1 bundle (:data:`OBJ1`; ``region-obj1`` is its pair without pseudo-labels, ``-only`` the
switch alone), and the paper's Table 7 comparators SparseDet and Co-mining (their ``sparsedet.*`` /
``comining.*`` settings; ``--set`` changes them)."""

FIGURES: tuple[str, ...] = ("map50", "map50_95", "operating_point.recall", "operating_point.precision")


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"runs": []}
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        raise ValueError(f"{path}: not an ablation file (no 'runs' list)")
    return doc


def _row(method: str, seed: int, summary: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    op = metrics["operating_point"]
    row: dict[str, Any] = {
        "method": method,
        "seed": seed,
        "epochs": summary["epochs"],
        "seconds": summary["seconds"],
        "map50": metrics["map50"],
        "map50_95": metrics["map50_95"],
        "ap50": {k: v["ap50"] for k, v in metrics["per_class"].items()},
        "operating_point": {
            k: op[k] for k in ("conf", "precision", "recall", "f1", "count_abs_err_per_image")
        },
    }
    if "sparse" in summary:
        row["sparse"] = summary["sparse"]
    row["val_map50_95"] = [r.get("val/map50_95") for r in RunDir(summary["out"]).read_results()]
    if "attributes" in metrics:
        row["attribute_f1"] = {k: v["f1"] for k, v in metrics["attributes"].items()}
        row["attribute_f1_mean"] = metrics["attributes_mean"]["f1"]
    return row


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per method: seeds, mean and sd of mAP50, mAP50-95, recall and precision (at the operating point), each
    class's AP50 and, when every run has one, the mean attribute F1 (Table 9), the paired differences to
    ``naive`` and ``region`` and, for ``full``, whether its runs had plateaued."""
    out: dict[str, Any] = {}
    methods = list(dict.fromkeys(r["method"] for r in runs))
    attributes = bool(runs) and all("attribute_f1_mean" in r for r in runs)
    first = runs[0].get("ap50", {}) if runs else {}
    classes = [c for c in first if all(c in r.get("ap50", {}) for r in runs)]
    figures = (*FIGURES, *(f"ap50.{c}" for c in classes), *(("attribute_f1_mean",) if attributes else ()))
    for method in methods:
        rows = [r for r in runs if r["method"] == method]
        out[method] = {"seeds": len(rows)}
        for key in figures:
            vals = list(by_seed(rows, method, key).values())
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            out[method][_figure_name(key)] = {"mean": round(statistics.mean(vals), 4), "sd": round(sd, 4)}
        paired = {
            f"vs_{base}": {_figure_name(key): paired_difference(by_seed(runs, method, key), by_seed(runs, base, key))
                           for key in figures}
            for base in ("naive", "region") if base in methods and method not in ("naive", base)
        }  # fmt: skip
        if paired:
            out[method]["paired"] = paired
        if method == "full":
            out[method]["plateau"] = plateau([r.get("val_map50_95") or [] for r in rows])
    return out


def _figure_name(key: str) -> str:
    """A figure's name in the summary: ``recall`` for ``operating_point.recall``, ``ap50_WBC`` for ``ap50.WBC``."""
    return key.replace(".", "_") if key.startswith("ap50.") else key.split(".")[-1]


def plateau(
    curves: Sequence[Sequence[float | None]], window: float = 0.2, tol: float = 0.01
) -> dict[str, Any]:
    """Whether training curves (val mAP50-95 per epoch, ``None`` where not validated) had levelled off: in
    each, the best of the last ``window`` share of the validated epochs (at least 2) beats the best before
    it by less than ``tol``. A gap to full labels means little while the full-label model is still rising."""
    gains = []
    for curve in curves:
        vals = [float(v) for v in curve if v not in (None, "")]
        tail = max(2, round(len(vals) * window))
        if len(vals) <= tail:
            return {"plateaued": False, "reason": f"only {len(vals)} validated epochs"}
        gains.append(round(max(vals[-tail:]) - max(vals[:-tail]), 4))
    if not gains:
        return {"plateaued": False, "reason": "no full-label run"}
    return {"plateaued": all(g < tol for g in gains), "last_window_gain": gains, "tolerance": tol}


def _method_overrides(
    method: str, attributes: bool, protocol: TwoPhase | None, extra: Sequence[str] = ()
) -> list[str]:
    """The run's config overrides: attributes off unless asked, under the two-phase protocol phase 2's
    preset, the method (and variant), then the user's (``extra``)."""
    overrides = _attr(attributes)
    base, variant = VARIANTS.get(method, (method, ()))
    if protocol is not None:
        overrides += [o for o in protocol.phase2(attributes) if not o.startswith("sparse.method=")]
    overrides += [] if method == "full" else [f"sparse.method={base}", *variant]
    return [*overrides, *extra]  # the user's last: they win


def run_ablation(
    data: Path,
    out: Path,
    *,
    train_fn: Callable[..., dict[str, Any]],
    val_fn: Callable[..., dict[str, Any]],
    full_data: Path | None = None,
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    minutes: float | None = 8.0,
    epochs: int | None = None,
    protocol: TwoPhase | None = None,
    attributes: bool = False,
    overrides: Sequence[str] = (),
    train_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and score every (method, seed) not yet in ``out/ablation.json``; returns the whole document.
    ``epochs`` (fixed) replaces ``minutes``; with ``protocol`` it is phase 2's count and phase 1 comes first.
    ``overrides`` (config ``key=value``) apply to every run, phase 1 included."""
    if protocol is not None:
        budget: dict[str, Any] = {"epochs": protocol.phase2_epochs, "time": None}
    elif (minutes is None) == (epochs is None):
        raise ValueError("an ablation needs exactly one budget: minutes or a fixed epoch count")
    else:
        budget = {"epochs": epochs, "time": None} if epochs is not None else {"epochs": 1000, "time": minutes}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ablation.json"
    doc = _load(path)
    doc["budget"] = {"minutes": minutes} if budget["time"] else {"epochs": budget["epochs"]}
    doc["overrides"] = list(overrides)
    if protocol is not None:
        doc["protocol"] = protocol.to_dict()
    done = {(r["method"], r["seed"]) for r in doc["runs"]}
    extra = [*_attr(attributes), *overrides]
    plan = [(m, s) for m in methods for s in seeds] + ([("full", s) for s in seeds] if full_data else [])
    for method, seed in plan:
        if (method, seed) in done:
            continue
        start = {} if protocol is None else {"model": _phase1(data, out, seed, protocol, extra, train_fn)}
        run = out / "runs" / f"{method.replace('+', '_')}_s{seed}"
        summary = train_fn(
            full_data if method == "full" else data,
            out=run,
            seed=seed,
            resume=resumable(run),
            overrides=_method_overrides(method, attributes, protocol, overrides),
            **budget,
            **(train_kwargs or {}),
            **start,
        )
        metrics = val_fn(summary["best"], data, split="test")
        doc["runs"].append(_row(method, seed, summary, metrics))
        doc["summary"] = summarise(doc["runs"])
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    doc["summary"] = summarise(doc["runs"])
    return doc


def _attr(attributes: bool) -> list[str]:
    return [] if attributes else ["train.attributes=false"]


def _phase1(
    data: Path, out: Path, seed: int, p: TwoPhase, extra: list[str], train_fn: Callable[..., dict[str, Any]]
) -> str:
    """Phase 1 of ``seed`` (trained once, shared by every method's phase 2): its ``last.pt``."""
    run = out / "runs" / f"phase1_s{seed}"
    last = run / "weights" / "last.pt"
    if not last.is_file() or finished_epochs(run) < p.phase1_epochs:
        train_fn(data, out=run, seed=seed, epochs=p.phase1_epochs, time=None, overrides=[*p.phase1(), *extra],
                 resume=resumable(run))  # fmt: skip
    return str(last)
