"""Training jobs: train a detector, the sparse-method ablation, export a checkpoint for another runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .inference import val

__all__ = ["train", "train_two_phase", "train_attribute_recipe", "ablate", "export"]


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
    """Train a detector (the YOLO-style presets, or FCOS with ``model="fcos-n"``); ``out`` is the run folder
    itself. Returns the run summary.

    ``time`` (minutes) bounds the whole run and makes ``epochs`` an upper bound. ``resume`` continues
    ``out/weights/last.pt`` with the run's own ``config.yaml``.
    """
    from ..config import apply_overrides, load_config
    from ..engine.fcos_train import FcosTrainer, is_fcos_model
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
    fcos = is_fcos_model(cfg.model)  # FCOS (docs/detectors.md): its own network and loss
    if not resume:
        ensure_new_run(Path(out))
    if fcos:
        return {**FcosTrainer(cfg, resume=resume, progress=progress).fit(), "architecture": "fcos"}
    return Trainer(cfg, resume=resume, progress=progress).fit()


def _stages(
    data: str | Path,
    out: str | Path,
    start: str,
    plan: list[tuple[str, int, list[str]]],
    user: list[str],
    **kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Run ``plan`` (``(name, epochs, overrides)``) into ``out/<name>``, each stage from the previous one's
    ``last.pt`` (the first from ``start``), the user's overrides last. A finished stage is kept (its summary
    says ``kept``), an interrupted one resumes."""
    from ..engine.run_dir import finished_epochs, resumable

    if kwargs.get("time") is not None:
        raise ValueError("a staged protocol runs fixed epochs per stage (no --time budget)")
    summaries: dict[str, dict[str, Any]] = {}
    for name, epochs, preset in plan:
        run = Path(out) / name
        if resumable(run) and finished_epochs(run) >= epochs:
            summaries[name] = {"out": str(run), "epochs": finished_epochs(run), "last": str(run / "weights" / "last.pt"),
                               "best": str(run / "weights" / "best.pt"), "kept": True}  # fmt: skip
        else:
            summaries[name] = train(data, model=start, epochs=epochs, out=run, resume=resumable(run),
                                    overrides=[*preset, *user], **kwargs)  # fmt: skip
        start = str(run / "weights" / "last.pt")
    return summaries


def train_two_phase(
    data: str | Path,
    *,
    out: str | Path,
    protocol: Any = None,
    model: str = "n",
    attributes: bool = True,
    overrides: list[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """SLA-Det's two-phase protocol (:mod:`leukodet.engine.protocol`): phase 1 into ``out/phase1`` from
    ``model``, phase 2 into ``out/phase2`` from phase 1's ``last.pt``. A finished phase is kept, an
    interrupted one resumes. ``kwargs`` go to :func:`train` for both phases (imgsz, batch, seed, device ...);
    ``protocol`` is a :class:`~leukodet.engine.protocol.TwoPhase` (default: the authors' numbers). Returns
    phase 2's summary with ``phase1`` (phase 1's) and ``protocol`` added."""
    from ..engine.protocol import TwoPhase

    p = protocol or TwoPhase()
    user = [*(overrides or []), *([] if attributes else ["train.attributes=false"])]
    plan = [("phase1", p.phase1_epochs, p.phase1()), ("phase2", p.phase2_epochs, p.phase2(attributes))]
    summaries = _stages(data, out, model, plan, user, **kwargs)
    return {**summaries["phase2"], "phase1": summaries["phase1"], "protocol": p.to_dict()}


def train_attribute_recipe(
    data: str | Path,
    *,
    out: str | Path,
    schedule: Any = None,
    model: str = "n",
    overrides: list[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The attribute recipe (:mod:`leukodet.engine.attribute_recipe`): the detector, then the AttriHead on it
    frozen, then both at a lower LR, into ``out/detector``, ``out/head`` and ``out/joint``. ``schedule`` is an
    :class:`~leukodet.engine.attribute_recipe.AttributeRecipe` (default: 30 / 10 / 10 epochs, joint LR 0.1 ×).
    Returns the joint stage's summary with each stage's (``stages``) and ``schedule`` added."""
    from ..engine.attribute_recipe import AttributeRecipe

    r = schedule or AttributeRecipe()
    summaries = _stages(data, out, model, r.stages(), list(overrides or []), **kwargs)
    return {**summaries["joint"], "stages": summaries, "schedule": r.to_dict()}


def ablate(
    data: str | Path,
    out: str | Path,
    *,
    full_data: str | Path | None = None,
    attributes: bool = False,
    time: float | None = 8.0,
    epochs: int | None = None,
    protocol: Any = None,
    seeds: list[int] | tuple[int, ...] = (0, 1, 2),
    methods: list[str] | tuple[str, ...] | None = None,
    model: str = "n",
    imgsz: int = 640,
    batch: int = 16,
    device: str = "cpu",
    overrides: list[str] | tuple[str, ...] = (),
    progress: bool = False,
) -> dict[str, Any]:
    """Run the sparse-annotation methods (and full-label training with ``full_data``) for ``epochs`` each
    (fixed; or ``time`` minutes when ``epochs`` is ``None``) and ``seeds``, every run from ``model``; with
    ``protocol`` (a :class:`~leukodet.engine.protocol.TwoPhase`) phase 1 first, once per seed. Results go to
    ``out/ablation.json`` as each run finishes (resumable); ``overrides`` apply to every run. See
    :mod:`leukodet.engine.ablation`."""
    from ..engine.ablation import METHODS, VARIANTS, run_ablation

    unknown = sorted(set(methods or ()) - set(METHODS) - set(VARIANTS))
    if unknown:
        known = ", ".join((*METHODS, *VARIANTS))
        raise ValueError(f"unknown sparse method(s) {', '.join(unknown)} (choose from {known})")
    base = {"model": model, "imgsz": imgsz, "batch": batch, "device": device, "progress": progress}
    return run_ablation(
        Path(data),
        Path(out),
        train_fn=lambda source, **kw: train(source, **{**base, **kw}),
        val_fn=lambda weights, source, **kw: val(weights, source, imgsz=imgsz, device=device, **kw),
        full_data=Path(full_data) if full_data else None,
        methods=tuple(METHODS if methods is None else methods),  # [] = none (e.g. full labels alone)
        seeds=tuple(seeds),
        minutes=None if epochs is not None else time,
        epochs=epochs,
        protocol=protocol,
        attributes=attributes,
        overrides=tuple(overrides),
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


def train_crops(
    data: str | Path,
    out: str | Path,
    *,
    crop: dict[str, Any] | None = None,
    epochs: int = 30,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Train the crop classifier (the attributes' second path, or with ``crop={"type_from": "attributes"}``
    the CBM baseline) on ``data``'s labelled cells into ``out``; returns its summary and best val metrics
    (:func:`leukodet.engine.crop_train.train_crop_classifier`)."""
    from ..engine.crop_train import CropTrainConfig, train_crop_classifier

    cfg = CropTrainConfig(epochs=epochs, batch=batch, lr=lr, seed=seed)
    return train_crop_classifier(data, out, crop, cfg, device=device, resume=resume, progress=progress)
