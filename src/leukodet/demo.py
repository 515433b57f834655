"""``leukodet demo``: the main job on the embedded synthetic default, start to end, in a few minutes.

With bundled models (:mod:`leukodet.bundled`) the demo first shows what the product model ``general-n`` finds
on the demo's test fields as it comes (never trained on them: figures and a film report), then fine-tunes
``synth-n`` on the sparse split with SLA-Det for the demo's budget and shows the gain over ``synth-n`` as it came.
A model that is not bundled is skipped and said so (without ``general-n`` the first step shows ``synth-n``;
without ``synth-n`` the demo trains from random weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["demo", "DEMO_MODEL", "SHOWCASE_MODEL"]

DEMO_MODEL = "synth-n"
"""The bundled model the demo fine-tunes when it is installed."""

SHOWCASE_MODEL = "general-n"
"""The bundled product model the demo shows first, as it comes, when it is installed."""


def _start(model: str | None, echo: Any) -> str | None:
    """The checkpoint to start from: a bundled name or a file; ``None`` (random weights) when there is none."""
    from .bundled import bundled_models

    if model and (model in bundled_models() or Path(model).is_file()):
        return model
    why = "none asked for" if not model else f"{model!r} is not bundled in this install"
    echo(f"   no pretrained start ({why}): training from random weights")
    return None


def _figures(metrics: dict[str, Any]) -> str:
    """One line of a split's figures: mAP, WBC AP50 (typed or not) and the operating point."""
    op, wbc = metrics["operating_point"], metrics["per_class"].get("WBC", {}).get("ap50")
    wbc_text = "" if wbc is None else f", WBC AP50 {wbc:.3f}"
    return (
        f"mAP50 {metrics['map50']:.3f}, mAP50-95 {metrics['map50_95']:.3f}{wbc_text}; at conf {op['conf']}: "
        f"precision {op['precision']:.3f}, recall {op['recall']:.3f}, "
        f"count error {op['count_abs_err_per_image']:.2f} cells/field"
    )


def _data(out: Path, images: int, seed: int, size: int, echo: Any) -> tuple[Path, Path, dict[str, Any]]:
    """Steps 1-2: the synthetic fields (with the parent class ``WBC``) and their sparse split, summarised."""
    import shutil

    from . import tasks

    for sub in ("synth", "sparse", "lld16", "run", "predict", "report"):
        shutil.rmtree(out / sub, ignore_errors=True)
    data = tasks.synth(out / "synth", images=images, seed=seed, size=size, wbc_parent=True)
    full = tasks.stats(data)
    echo(f"1. synthetic fields (HCM_100x_C2, 14 LLD classes and their parent WBC, 7 attributes): {data}")
    _echo_stats(full, echo)
    sparse = tasks.sparsify(data, out / "sparse", fraction=0.2, seed=seed)
    lld16_yaml = tasks.convert(sparse, out / "lld16", "lld16")
    echo(
        f"2. sparse training split (one 1/5-area labelled region per field): {sparse}; as 16-column files: {lld16_yaml}"
    )
    _echo_stats(tasks.stats(sparse), echo)
    return data, sparse, full


def demo(
    out: str | Path = "demo_out",
    *,
    images: int = 60,
    seed: int = 0,
    minutes: float = 3.0,
    model: str | None = DEMO_MODEL,
    showcase: str | None = SHOWCASE_MODEL,
    size: int = 640,
    imgsz: int = 320,
    echo: Any = print,
) -> dict[str, Any]:
    """The main job on the embedded default: synthesize → summarise → sparsify → (pretrained model as it comes)
    → fine-tune with SLA-Det on the sparse split → evaluate → predict → film report.

    ``model`` is the start (a bundled name or a checkpoint; ``None`` or an absent bundle: random weights);
    ``showcase`` the model shown first as it comes (default ``general-n``; when absent, the start).
    Needs nothing outside the package (about ``minutes`` + 1 minutes on 2 CPU cores). Re-running replaces the
    demo's own sub-folders under ``out``.
    """

    from . import tasks

    out = Path(out)
    data, sparse, full = _data(out, images, seed, size, echo)
    start = _start(model, echo)
    shown = _shown(showcase, start)
    images_dir = Path(data).parent / "images" / "test"
    shown_metrics, shown_doc, before = _as_they_come(shown, start, data, images_dir, out, imgsz, echo)
    what = f"fine-tuning {start}" if start else "training the n preset from random weights"
    echo(f"4. {what} with SLA-Det on the sparse split for {minutes:g} min at {imgsz} px ...")
    summary = tasks.train(
        sparse,
        model=start or "n",
        epochs=1000,
        imgsz=imgsz,
        batch=8,
        out=out / "run",
        time=minutes,
        seed=seed,
        overrides=["sparse.method=sladet"],
        progress=False,
    )
    echo(f"   {summary['epochs']} epochs ({summary['recipe']} recipe), weights: {summary['best']}")
    metrics, doc = _after(summary["best"], data, images_dir, out, before, echo)
    return {
        "full": full,
        "showcase": {"model": shown, "test": shown_metrics, "report": shown_doc},
        "start": before,
        "train": summary,
        "test": metrics,
        "report": doc,
    }


def _after(
    best: str, data: Path, images_dir: Path, out: Path, before: dict[str, Any] | None, echo: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Steps 5-7: the trained model's test figures (and gain), predictions and film report."""
    from . import tasks

    metrics = tasks.val(best, data, split="test", json_out=out / "run" / "test_metrics.json")
    echo(f"5. test split after training: {_figures(metrics)}")
    if before is not None:
        gain = f"mAP50 {metrics['map50'] - before['map50']:+.3f}"
        echo(f"   gain: {gain}, mAP50-95 {metrics['map50_95'] - before['map50_95']:+.3f}")
    tasks.predict(best, [str(images_dir)], out / "predict")
    echo(f"6. predictions (JSON per field, predictions.csv, annotated PNGs): {out / 'predict'}")
    attrs = metrics.get("attributes_mean") or {}
    if attrs:
        echo(
            f"   attributes (test): mean accuracy {attrs['accuracy']:.3f}, mean macro-F1 {attrs['macro_f1']:.3f}"
        )
    doc = tasks.report(best, images_dir, out / "report")
    echo(f"7. film report of the test fields ({doc['text']}): {out / 'report' / 'report.html'}")
    return metrics, doc


def _as_they_come(
    shown: str | None, start: str | None, data: Path, images_dir: Path, out: Path, imgsz: int, echo: Any
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """Step 3: the shown model's test figures and film report, and the start's figures (the same when the
    start is the shown model); ``None`` for what is not there."""
    from . import tasks

    shown_metrics = shown_doc = before = None
    if shown is not None:
        shown_metrics = tasks.val(
            shown, data, split="test", imgsz=imgsz, json_out=out / "showcase_test_metrics.json"
        )
        echo(f"3. {shown} as it comes (never trained on these fields), test split: {_figures(shown_metrics)}")
        shown_doc = tasks.report(shown, images_dir, out / "start_report", imgsz=imgsz)
        echo(f"   its film report ({shown_doc['text']}): {out / 'start_report' / 'report.html'}")
    if start is not None:
        if shown == start:
            before = shown_metrics
            (out / "start_test_metrics.json").write_text((out / "showcase_test_metrics.json").read_text())
        else:
            before = tasks.val(
                start, data, split="test", imgsz=imgsz, json_out=out / "start_test_metrics.json"
            )
        if shown != start:
            echo(f"   {start} as it comes (the start of step 4), test split: {_figures(before)}")
    return shown_metrics, shown_doc, before


def _shown(showcase: str | None, start: str | None) -> str | None:
    """The model shown first: ``showcase`` when bundled (or a file), else the start."""
    from .bundled import bundled_models

    if showcase and (showcase in bundled_models() or Path(showcase).is_file()):
        return showcase
    return start


def _echo_stats(result: dict[str, Any], echo: Any) -> None:
    for split, s in result["splits"].items():
        nonzero = {k: v for k, v in s["boxes"].items() if v}
        echo(
            f"  {split}: {s['images']} images, {sum(nonzero.values())} boxes, labelled regions "
            f"{s['labeled_regions']} (coverage {s['region_coverage']:.1%}), invalid {s['invalid'] or 'none'}"
        )
        echo("    " + ", ".join(f"{k} {v}" for k, v in nonzero.items()))
