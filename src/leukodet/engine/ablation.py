"""``leukodet ablate``: the paper's sparse-annotation comparison as one resumable command.

Every (method, seed) pair — the sparse methods on the sparse dataset, and full-label training on ``full_data``
when given — is trained for the same wall-clock budget and scored with its best.pt (chosen on the val split)
on the sparse dataset's **test** split, whose labels are complete (``sparsify`` leaves val and test alone).
Each finished run is appended to ``OUT/ablation.json`` at once (atomically); running the command again skips
the finished runs and resumes an interrupted one from its ``last.pt``. With ``attributes`` the per-method
attribute F1 (the paper's Table 9) is filled in too.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..records.files import atomic_write_text

__all__ = ["METHODS", "VARIANTS", "run_ablation", "summarise"]

METHODS: tuple[str, ...] = ("naive", "region", "region+pl", "sladet", "crop")
"""Sparse methods compared; ``full`` is full-label training."""

VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sladet-paper": ("sladet", ("sparse.triplet_sign=paper",)),
    "sladet-fixed": ("sladet", ("sparse.triplet_sign=fixed",)),
}
"""Named variants an ablation may also run: (method, extra config overrides). The two Eq. 10 hinge signs."""


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
    if "attributes" in metrics:
        row["attribute_f1"] = {k: v["f1"] for k, v in metrics["attributes"].items()}
        row["attribute_f1_mean"] = metrics["attributes_mean"]["f1"]
    return row


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per method: number of seeds, mean and standard deviation of mAP50, mAP50-95, recall, precision."""
    out: dict[str, Any] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        rows = [r for r in runs if r["method"] == method]
        figures = {
            "map50": [r["map50"] for r in rows],
            "map50_95": [r["map50_95"] for r in rows],
            "recall": [r["operating_point"]["recall"] for r in rows],
            "precision": [r["operating_point"]["precision"] for r in rows],
        }
        out[method] = {"seeds": len(rows)}
        for key, vals in figures.items():
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            out[method][key] = {"mean": round(statistics.mean(vals), 4), "sd": round(sd, 4)}
    return out


def run_ablation(
    data: Path,
    out: Path,
    *,
    train_fn: Callable[..., dict[str, Any]],
    val_fn: Callable[..., dict[str, Any]],
    full_data: Path | None = None,
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    minutes: float = 8.0,
    attributes: bool = False,
    train_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and score every (method, seed) not yet in ``out/ablation.json``; returns the whole document."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ablation.json"
    doc = _load(path)
    done = {(r["method"], r["seed"]) for r in doc["runs"]}
    plan = [(m, s) for m in methods for s in seeds] + ([("full", s) for s in seeds] if full_data else [])
    for method, seed in plan:
        if (method, seed) in done:
            continue
        run = out / "runs" / f"{method.replace('+', '_')}_s{seed}"
        overrides = [] if attributes else ["train.attributes=false"]
        base, extra = VARIANTS.get(method, (method, ()))
        overrides += [] if method == "full" else [f"sparse.method={base}", *extra]
        resume = (run / "weights" / "last.pt").is_file() and (run / "config.yaml").is_file()
        source = full_data if method == "full" else data
        summary = train_fn(
            source,
            out=run,
            time=minutes,
            seed=seed,
            resume=resume,
            overrides=overrides,
            **(train_kwargs or {}),
        )
        metrics = val_fn(summary["best"], data, split="test")
        doc["runs"].append(_row(method, seed, summary, metrics))
        doc["summary"] = summarise(doc["runs"])
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    doc["summary"] = summarise(doc["runs"])
    return doc
