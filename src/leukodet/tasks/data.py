"""Data jobs: statistics, conversion, sparse splits and synthetic data sets (no torch)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..records.diagnostics import DataError, Diagnostics
from ..records.files import ensure_empty_dir
from ..records.images import decodable_records
from ..records.io import write_dataset
from ..records.sources import load_source
from ..records.sparsify import sparsify_dataset
from ..records.stats import dataset_stats

__all__ = ["stats", "convert", "sparsify", "synth"]


def stats(source: str | Path, *, strict: bool = False, progress: bool = False) -> dict[str, Any]:
    """Statistics of any supported source (the ``stats --json`` object); every image is decoded, so an unreadable
    one is named here (and fatal with ``strict``) before training meets it."""
    ds, diag = load_source(source, Diagnostics(strict=strict, progress=progress))
    return dataset_stats(replace(ds, records=decodable_records(ds.records, diag)), diag)


def convert(
    source: str | Path,
    dest: str | Path,
    to: str,
    *,
    allow_loss: bool = False,
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Convert ``source`` to format ``to`` under ``dest``; returns ``dest/data.yaml``."""
    dest = Path(dest)
    ensure_empty_dir(dest, overwrite)
    ds, diag = load_source(source, Diagnostics(strict=strict, progress=progress))
    ds = replace(ds, records=decodable_records(ds.records, diag))  # an unreadable image is named, not copied
    return write_dataset(ds, dest, to, allow_loss=allow_loss)


def sparsify(
    source: str | Path,
    out: str | Path,
    *,
    fraction: float,
    seed: int,
    mode: str = "region",
    split: str = "train",
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a sparse version of ``source`` (its ``split`` sparsified, written as COCO with labelled regions)."""
    out = Path(out)
    ensure_empty_dir(out, overwrite)
    ds, _ = load_source(source, Diagnostics(strict=strict, progress=progress))
    try:
        sparse = sparsify_dataset(ds, fraction, seed, mode, split)
    except ValueError as exc:
        raise DataError(f"{source}: {exc}") from None
    return write_dataset(sparse, out, "coco")


def synth(
    out: str | Path,
    *,
    images: int,
    seed: int,
    sparse: float | None = None,
    domain: str = "HCM_100x_C2",
    label_rbc: bool = False,
    wbc_parent: bool = False,
    masks: bool = False,
    fmt: str = "coco",
    size: int = 640,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Generate a synthetic LLD-style dataset (see :mod:`leukodet.synth`); returns ``out/data.yaml``."""
    from ..synth.generate import generate_dataset

    out = Path(out)
    ensure_empty_dir(out, overwrite)
    return generate_dataset(
        out,
        images,
        seed,
        sparse=sparse,
        domain=domain,
        label_rbc=label_rbc,
        wbc_parent=wbc_parent,
        masks=masks,
        fmt=fmt,
        size=size,
        progress=progress,
    )
