"""``leukodet demo``: the main job on the embedded synthetic default, start to end, in a few minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["demo"]


def demo(
    out: str | Path = "demo_out", *, images: int = 60, seed: int = 0, minutes: float = 3.0, echo: Any = print
) -> dict[str, Any]:
    """The main job on the embedded default: synthesize → summarise → sparsify → train (detector + AttriHead)
    → evaluate → predict → film report.

    Needs nothing outside the package (about ``minutes`` + 1 minutes on 2 CPU cores). Re-running replaces the
    demo's own sub-folders under ``out``.
    """
    import shutil

    from . import api

    out = Path(out)
    for sub in ("synth", "sparse", "lld16", "run", "predict", "report"):
        shutil.rmtree(out / sub, ignore_errors=True)
    data = api.synth(out / "synth", images=images, seed=seed)
    full = api.stats(data)
    echo(f"1. synthetic fields (HCM_100x_C2, 14 LLD classes, 7 attributes): {data}")
    _echo_stats(full, echo)
    lld16_yaml = api.convert(
        api.sparsify(data, out / "sparse", fraction=0.2, seed=seed), out / "lld16", "lld16"
    )
    echo(
        f"2. sparse training split (one 1/5-area labelled region per field) as 16-column files: {lld16_yaml}"
    )
    _echo_stats(api.stats(lld16_yaml), echo)
    echo(f"3. training the n preset for {minutes:g} min at 320 px (fully labelled split) ...")
    summary = api.train(
        data,
        model="n",
        epochs=1000,
        imgsz=320,
        batch=8,
        out=out / "run",
        time=minutes,
        seed=seed,
        progress=False,
    )
    echo(f"   {summary['epochs']} epochs ({summary['recipe']} recipe), weights: {summary['best']}")
    metrics = api.val(summary["best"], data, split="test", json_out=out / "run" / "test_metrics.json")
    op = metrics["operating_point"]
    echo(
        f"4. test split: mAP50 {metrics['map50']:.3f}, mAP50-95 {metrics['map50_95']:.3f}; at conf "
        f"{op['conf']}: precision {op['precision']:.3f}, recall {op['recall']:.3f}, "
        f"count error {op['count_abs_err_per_image']:.2f} cells/field"
    )
    images_dir = Path(data).parent / "images" / "test"
    api.predict(summary["best"], [str(images_dir)], out / "predict")
    echo(f"5. predictions (JSON per field, predictions.csv, annotated PNGs): {out / 'predict'}")
    attrs = metrics.get("attributes_mean") or {}
    if attrs:
        echo(
            f"   attributes (test): mean accuracy {attrs['accuracy']:.3f}, mean macro-F1 {attrs['macro_f1']:.3f}"
        )
    doc = api.report(summary["best"], images_dir, out / "report")
    echo(f"6. film report of the test fields ({doc['text']}): {out / 'report' / 'report.html'}")
    return {"full": full, "train": summary, "test": metrics, "report": doc}


def _echo_stats(result: dict[str, Any], echo: Any) -> None:
    for split, s in result["splits"].items():
        nonzero = {k: v for k, v in s["boxes"].items() if v}
        echo(
            f"  {split}: {s['images']} images, {sum(nonzero.values())} boxes, labelled regions "
            f"{s['labeled_regions']} (coverage {s['region_coverage']:.1%}), invalid {s['invalid'] or 'none'}"
        )
        echo("    " + ", ".join(f"{k} {v}" for k, v in nonzero.items()))
