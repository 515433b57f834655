"""Dataset generation: the ``leukodet synth`` command's engine (fields, splits, sparse regions, masks, files).

``generate_dataset`` renders ``images`` fields, splits them 80/10/10 (train/val/test, in index order), writes
each PNG straight to ``out/images/<split>/<split>_<index>.png`` and the labels through
:func:`leukodet.records.io.write_dataset` (COCO by default, with the LLD classes, the LLD attribute schema and
the domain). Each field's random stream depends only on (seed, split, index), so output is byte-identical for
the same arguments whatever the output folder, and fields can be rendered in any order or in parallel.
With ``label_rbc`` the class list is the 14 LLD classes followed by ``RBC`` and ``Platelet``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from leukodet.records.schema import Dataset, ImageRecord
from leukodet.records.vocab import GENERIC_WBC, LLD_CLASSES, domain_of, lld_schema

from .domains import domain_params
from .field import PLATELET_CLASS_ID, RBC_CLASS_ID, RenderedField, field_rng, render_plan
from .layout import FieldPlan, plan_field

__all__ = [
    "SPLIT_FRACTIONS",
    "split_plan",
    "plan_dataset_field",
    "render_dataset_field",
    "generate_dataset",
    "save_masks",
    "class_names",
]

SPLIT_FRACTIONS: tuple[tuple[str, float], ...] = (("train", 0.8), ("val", 0.1), ("test", 0.1))
"""Split names and fractions; counts are rounded, test takes the remainder."""


def split_plan(images: int) -> list[tuple[str, int]]:
    """``(split, index within split)`` for each of ``images`` fields, train first."""
    n_train = int(round(images * SPLIT_FRACTIONS[0][1]))
    n_val = int(round(images * SPLIT_FRACTIONS[1][1]))
    n_val = min(n_val, images - n_train)
    counts = {"train": n_train, "val": n_val, "test": images - n_train - n_val}
    return [(s, i) for s, _ in SPLIT_FRACTIONS for i in range(counts[s])]


def class_names(label_rbc: bool = False, wbc_parent: bool = False) -> list[str]:
    """The 14 LLD classes, plus ``RBC`` and ``Platelet`` when red cells and platelets are labelled, plus the
    parent class ``WBC`` of the WBC types (:func:`leukodet.records.vocab.class_parents`) when asked for."""
    extra = ["RBC", "Platelet"] if label_rbc else []
    return list(LLD_CLASSES) + extra + ([GENERIC_WBC] if wbc_parent else [])


def plan_dataset_field(
    seed: int, split: str, index: int, domain: str = "HCM_100x_C2", size: int = 640
) -> tuple[FieldPlan, np.random.Generator]:
    """Labels-only fast path: one dataset field's plan (classes, attributes; no pixels) and its RNG."""
    rng = field_rng(seed, split, index)
    return plan_field(rng, domain_params(domain), size), rng


def render_dataset_field(
    seed: int, split: str, index: int, domain: str = "HCM_100x_C2", size: int = 640
) -> RenderedField:
    """Render one dataset field exactly as :func:`generate_dataset` does."""
    plan, rng = plan_dataset_field(seed, split, index, domain, size)
    return render_plan(plan, rng)


def save_masks(path: Path, field: RenderedField) -> None:
    """Write a field's instance masks as a reproducible ``.npz`` (fixed zip timestamps).

    Arrays: ``boxes`` (N, 4) int32 xyxy, ``class_ids`` (N,) int32, ``mask_<i>`` the cropped bool masks.
    """
    arrays: dict[str, np.ndarray] = {
        "boxes": np.array([c.box for c in field.cells], np.int32).reshape(-1, 4),
        "class_ids": np.array([c.class_id for c in field.cells], np.int32),
    }
    arrays.update({f"mask_{i:04d}": m for i, m in enumerate(field.masks)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def _progress(items: list[tuple[str, int]], enabled: bool) -> Iterator[tuple[str, int]]:
    if not enabled:
        return iter(items)
    from tqdm import tqdm

    return iter(tqdm(items, desc="synth", unit="field"))


def _record(
    out: Path, field: RenderedField, split: str, stem: str, size: int, domain: str, label_rbc: bool
) -> ImageRecord:
    """Write the PNG and return its record (RBCs and platelets dropped unless labelled)."""
    path = out / "images" / split / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(field.image[..., ::-1]))
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    path.write_bytes(buf.tobytes())
    cells = tuple(c for c in field.cells if label_rbc or c.class_id not in (RBC_CLASS_ID, PLATELET_CLASS_ID))
    return ImageRecord(path, size, size, split, cells, None, domain_of(domain))


def generate_dataset(
    out: Path,
    images: int,
    seed: int,
    *,
    sparse: float | None = None,
    domain: str = "HCM_100x_C2",
    label_rbc: bool = False,
    wbc_parent: bool = False,
    masks: bool = False,
    fmt: str = "coco",
    size: int = 640,
    progress: bool = True,
) -> Path:
    """Render a synthetic dataset and write it; returns the path of ``out/data.yaml``.

    Args:
        out: output folder (created); images go to ``out/images/<split>/``, masks to ``out/masks/<split>/``.
        images: number of fields (split 80/10/10 into train/val/test).
        seed: master seed; the output depends only on the arguments, not on ``out``.
        sparse: if given, each training field keeps one labelled region of this area fraction
            (:func:`leukodet.records.sparsify.sample_region`, keyed by the image stem).
        domain: LLD domain name (``HCM_100x_C2`` ... ``LCM_10x_C2``).
        label_rbc: also label red cells (``RBC``) and platelets (``Platelet``) after the 14 LLD classes.
        wbc_parent: also name the class ``WBC`` (last), the parent of the WBC types: a model trained on the
            data learns "is it a WBC" beside "which type" (:mod:`leukodet.model.hierarchy`).
        masks: also write each field's instance masks (``.npz``, see :func:`save_masks`).
        fmt: label format for :func:`leukodet.records.io.write_dataset`.
        size: field side in pixels.
        progress: show a progress bar.
    """
    from leukodet.records.io import write_dataset
    from leukodet.records.sparsify import restrict_to_region, sample_region

    if images < 1:
        raise ValueError(f"images must be >= 1, got {images}")
    domain_of(domain)
    out = Path(out)
    records: list[ImageRecord] = []
    for split, index in _progress(split_plan(images), progress):
        stem = f"{split}_{index:05d}"
        field = render_dataset_field(seed, split, index, domain, size)
        rec = _record(out, field, split, stem, size, domain, label_rbc)
        if masks:
            save_masks(out / "masks" / split / f"{stem}.npz", field)
        if sparse is not None and split == "train":
            rec = restrict_to_region(rec, sample_region(size, size, sparse, seed, stem))
        records.append(rec)
    ds = Dataset(records, class_names(label_rbc, wbc_parent), lld_schema())
    return write_dataset(ds, out, fmt)
