"""Patch proposal: for each field, the labelled region a person should label next, chosen by an acquisition
score of a trained model's predictions (``leukodet propose``, :func:`leukodet.api.propose`).

Each field gets one rectangle of area fraction ``F`` with the image's aspect ratio (the shape of
``leukodet sparsify``'s labelled region) that maximises the score (:mod:`leukodet.active.scores`,
:mod:`leukodet.active.window`); the outputs are described in :mod:`leukodet.active.outputs`. Importing this
module is light: torch is imported when a run starts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import PREDICT_CONF
from ..records.diagnostics import DataError
from ..records.files import ensure_empty_dir, unique_names
from ..records.schema import AttributeSchema
from ..records.sparsify import sample_region
from .outputs import Proposal, field_record, write_outputs
from .scores import FieldEvidence, cell_weights, check_score, default_band
from .window import best_window, check_fraction, window_value

__all__ = ["propose_region", "propose"]

log = logging.getLogger(__name__)

BATCH = 8
"""Fields per forward pass."""


def propose_region(
    score: str,
    evidence: FieldEvidence | None,
    width: int,
    height: int,
    fraction: float,
    *,
    seed: int = 0,
    key: str = "",
    band: tuple[float, float] | None = None,
    stride: int | None = None,
) -> Proposal:
    """The proposed region of one field.

    Args:
        score: one of :data:`~leukodet.active.scores.SCORES`.
        evidence: the model's view of the field (unused, may be ``None``, for ``random``).
        width, height: the field's size in pixels.
        fraction: the region's area fraction, in ``(0, 1]``.
        seed, key: ``random``'s draw (``key``: the image stem), also the fallback when no window scores.
        band: ``(t0, t1)`` of the ``band`` score (default: :class:`~leukodet.config.SparseConfig`'s).
        stride: the search grid step (``None``: every integer position on ordinary fields).
    """
    fraction = check_fraction(fraction)
    if check_score(score) == "random":
        return Proposal(sample_region(width, height, fraction, seed, key), score, None, None)
    if evidence is None:
        raise ValueError(f"the {score} score needs the model's predictions of the field")
    centres, weights = cell_weights(score, evidence, band)
    choice = best_window(width, height, fraction, centres, weights, stride)
    if choice.value > 0:
        return Proposal(choice.region, score, choice.value, choice.runner_up)
    region = sample_region(width, height, fraction, seed, key)
    return Proposal(region, score, window_value(centres, weights, region), choice.runner_up, fallback=True)


def _check_sources(paths: Sequence[Any]) -> list[Path]:
    """Local image files with distinct file names only (the fields are copied into one output folder)."""
    remote = [str(p) for p in paths if not isinstance(p, Path)]
    if remote:
        raise ValueError(f"propose reads local image files; copy {remote[0]} here first")
    unique_names(list(paths), "fields")
    return list(paths)


def _propose_fields(
    det: Any, paths: list[Path], cfg: Any, settings: dict[str, Any], progress: bool
) -> tuple[list[tuple[str, Any, Proposal]], list[dict[str, str]]]:
    """Predict and propose every field, :data:`BATCH` at a time; unreadable fields are skipped and named."""
    from tqdm import tqdm

    from ..infer.fields import decode_field
    from .evidence import field_evidence

    schema = AttributeSchema.from_mapping(det.attributes)
    done: list[tuple[str, Any, Proposal]] = []
    skipped: list[dict[str, str]] = []
    with tqdm(total=len(paths), desc="propose", unit="field", file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(paths), BATCH):
            decoded = [decode_field(p) for p in paths[start : start + BATCH]]
            for name, image, reason in decoded:
                if image is None:
                    log.warning("%s: unreadable image skipped (%s)", name, reason)
                    skipped.append({"source": name, "reason": reason})
            ok = [(Path(name), image) for name, image, _ in decoded if image is not None]
            evidence = field_evidence(det, [im for _, im in ok], cfg, settings["score"]) if ok else []
            for (path, image), ev in zip(ok, evidence):
                h, w = image.shape[:2]
                proposal = propose_region(
                    settings["score"], ev, w, h, settings["fraction"], seed=settings["seed"], key=path.stem,
                    band=settings.get("band"),
                )  # fmt: skip
                done.append((str(path), field_record(path, ev.prediction, proposal.region, schema), proposal))
            bar.update(len(decoded))
    return done, skipped


def propose(
    weights: str | Path,
    sources: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    fraction: float = 0.2,
    score: str = "entropy",
    seed: int = 0,
    conf: float = PREDICT_CONF,
    imgsz: int | None = None,
    device: str = "cpu",
    progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Propose one labelled region per field of ``sources`` with the model ``weights``, into ``out``.

    Writes ``out/data.yaml`` (a COCO dataset ``leukodet train --data`` reads: each field's region as its labelled
    region, the detections centred inside as candidate boxes) and then ``out/proposals.json``; returns the
    latter's document. Everything given is checked before the model is loaded.

    Args:
        weights: a ``.pt`` checkpoint (or a bundled model name).
        sources: image files, folders, list files or glob patterns (local).
        fraction: each region's area as a fraction of its field, in ``(0, 1]``.
        score: ``random``, ``entropy``, ``band``, ``flip`` or ``unsure`` (docs/active.md).
        seed: ``random``'s seed (the same region as ``leukodet sparsify --seed``), also the fallback's.
        conf: the detections' confidence floor (lower it to let the scores see fainter cells).
        imgsz: network input size (``None``: the checkpoint's); fields are letterboxed whole, never tiled.
        device: torch device; progress: a progress bar on stderr; overwrite: allow a non-empty ``out``.

    Raises:
        ValueError: a bad fraction, score, threshold or checkpoint. FileNotFoundError: a missing source.
        DataError: ``out`` is not empty, or no field could be read.
    """
    from ..infer.backends import load_detector
    from ..infer.config import InferConfig, check_conf
    from ..infer.sources import expand_sources
    from ..model.fcos import FcosNet

    settings: dict[str, Any] = {"score": check_score(score), "fraction": check_fraction(fraction)}
    settings |= {"seed": int(seed), "band": default_band() if score == "band" else None}
    cfg = InferConfig(conf=check_conf(conf), imgsz=imgsz, tile=False, batch=BATCH)
    out = Path(out)
    ensure_empty_dir(out, overwrite)
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    paths = _check_sources(expand_sources(items, exclude=out))
    det = load_detector(weights, "torch", device)
    if isinstance(det.model, FcosNet):  # the scores read the YOLO-style objectness and class outputs
        raise ValueError(
            f"{weights}: an FCOS checkpoint; leukodet propose needs a YOLO-style detector (--model n)"
        )
    done, skipped = _propose_fields(det, paths, cfg, settings, progress)
    if not done:
        raise DataError(f"no field could be read ({len(skipped)} unreadable, first: {skipped[0]['source']})")
    run = {"weights": str(weights), **settings, "conf": cfg.conf, "imgsz": det.input_size(imgsz)}
    schema = AttributeSchema.from_mapping(det.attributes)
    return write_outputs(out, done, det.class_names, schema, run | {"skipped": skipped})
