"""Training jobs: train a detector, the sparse-method ablation, export a checkpoint for another runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .inference import val

__all__ = ["train", "ablate", "export"]


def train(
    data: str | Path,
    *,
    model: str = "n",
    epochs: int = 100,
    imgsz: int = 640,
    batch: int = 16,
    out: str | Path = "runs/train",
    time: float | None = None,
    device: str = "cpu",
    workers: int = 0,
    seed: int = 0,
    recipe: str = "auto",
    resume: bool = False,
    overrides: list[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a detector; ``out`` is the run folder itself. Returns the run summary.

    ``time`` (minutes) bounds the whole run and makes ``epochs`` an upper bound. ``resume`` continues
    ``out/weights/last.pt`` with the run's own ``config.yaml``.
    """
    from ..config import apply_overrides, load_config
    from ..engine.run_dir import ensure_new_run, resume_config
    from ..engine.trainer import Trainer

    if resume:
        cfg = resume_config(Path(out), overrides)
    else:
        cfg = apply_overrides(
            load_config(None, overrides),
            {
                "data": str(data),
                "model": str(model),
                "out": str(out),
                "train.epochs": epochs,
                "train.imgsz": imgsz,
                "train.batch": batch,
                "train.time_minutes": time,
                "train.device": device,
                "train.workers": workers,
                "train.seed": seed,
                "train.recipe": recipe,
            },
        )
        ensure_new_run(Path(out))
    return Trainer(cfg, resume=resume, progress=progress).fit()


def ablate(
    data: str | Path,
    out: str | Path,
    *,
    full_data: str | Path | None = None,
    attributes: bool = False,
    time: float = 8.0,
    seeds: list[int] | tuple[int, ...] = (0, 1, 2),
    methods: list[str] | tuple[str, ...] | None = None,
    model: str = "n",
    imgsz: int = 640,
    batch: int = 16,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Run the sparse-annotation methods (and full-label training with ``full_data``) for ``time`` minutes
    each and ``seeds``; results go to ``out/ablation.json`` as each run finishes (resumable). See
    :mod:`leukodet.engine.ablation`."""
    from ..engine.ablation import METHODS, VARIANTS, run_ablation

    unknown = sorted(set(methods or ()) - set(METHODS) - set(VARIANTS))
    if unknown:
        known = ", ".join((*METHODS, *VARIANTS))
        raise ValueError(f"unknown sparse method(s) {', '.join(unknown)} (choose from {known})")
    kwargs = {"model": model, "imgsz": imgsz, "batch": batch, "device": device, "epochs": 1000}
    return run_ablation(
        Path(data),
        Path(out),
        train_fn=lambda source, **kw: train(source, progress=progress, **kwargs, **kw),
        val_fn=lambda weights, source, **kw: val(weights, source, imgsz=imgsz, device=device, **kw),
        full_data=Path(full_data) if full_data else None,
        methods=tuple(methods or METHODS),
        seeds=tuple(seeds),
        minutes=time,
        attributes=attributes,
    )


def export(
    weights: str | Path,
    out: str | Path,
    *,
    format: str = "onnx",
    imgsz: int | None = None,
    opset: int = 17,
    overwrite: bool = False,
) -> Path:
    """Export checkpoint ``weights`` for another runtime; ``format="onnx"`` writes ``out/model.onnx`` (detector,
    NMS and AttriHead in one graph, the checkpoint metadata embedded; docs/onnx.md). Returns the file."""
    formats = ("onnx",)
    if format not in formats:
        raise ValueError(f"unknown export format {format!r} (supported: {', '.join(formats)})")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ValueError("ONNX export needs the onnx package: pip install 'leukodet[onnx]'") from None
    from ..infer.onnx_export import export_onnx

    return export_onnx(weights, out, imgsz=imgsz, opset=opset, overwrite=overwrite)
