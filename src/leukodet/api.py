"""Public API: the one entry point the CLI (and later the service) call. Each function does one user job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .records.diagnostics import DataError, Diagnostics
from .records.io import write_dataset
from .records.sources import load_source
from .records.sparsify import sparsify_dataset
from .records.stats import dataset_stats

__all__ = ["stats", "convert", "sparsify", "synth", "demo", "ensure_empty_dir"]


def ensure_empty_dir(path: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty folder unless ``overwrite`` (nothing already written is lost)."""
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise DataError(f"{path}: folder is not empty (pass --overwrite to write into it)")


def stats(source: str | Path, *, strict: bool = False, progress: bool = False) -> dict[str, Any]:
    """Statistics of any supported source (the ``stats --json`` object)."""
    ds, diag = load_source(source, Diagnostics(strict=strict, progress=progress))
    return dataset_stats(ds, diag)


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
    ds, _ = load_source(source, Diagnostics(strict=strict, progress=progress))
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
    masks: bool = False,
    fmt: str = "coco",
    size: int = 640,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Generate a synthetic LLD-style dataset (see :mod:`leukodet.synth`); returns ``out/data.yaml``."""
    from .synth.generate import generate_dataset

    out = Path(out)
    ensure_empty_dir(out, overwrite)
    return generate_dataset(
        out,
        images,
        seed,
        sparse=sparse,
        domain=domain,
        label_rbc=label_rbc,
        masks=masks,
        fmt=fmt,
        size=size,
        progress=progress,
    )


def demo(out: str | Path = "demo_out", *, images: int = 40, seed: int = 0, echo: Any = print) -> dict[str, Any]:
    """The main job on the embedded default: synthesize fields, summarise, sparsify, convert, summarise.

    Needs nothing outside the package. Re-running replaces the demo's own sub-folders under ``out``.
    """
    import shutil

    out = Path(out)
    for sub in ("synth", "sparse", "lld16"):
        shutil.rmtree(out / sub, ignore_errors=True)
    data = synth(out / "synth", images=images, seed=seed)
    full = stats(data)
    echo(f"synthetic fields: {data}")
    _echo_stats(full, echo)
    sparse_yaml = sparsify(data, out / "sparse", fraction=0.2, seed=seed)
    lld16_yaml = convert(sparse_yaml, out / "lld16", "lld16")
    sparse = stats(lld16_yaml)
    echo(f"sparse split (one 1/5-area labelled region per training field), as Sparse-LeukemiaAttri 16-column files: {lld16_yaml}")
    _echo_stats(sparse, echo)
    return {"full": full, "sparse": sparse}


def _echo_stats(result: dict[str, Any], echo: Any) -> None:
    for split, s in result["splits"].items():
        nonzero = {k: v for k, v in s["boxes"].items() if v}
        echo(
            f"  {split}: {s['images']} images, {sum(nonzero.values())} boxes, labelled regions "
            f"{s['labeled_regions']} (coverage {s['region_coverage']:.1%}), invalid {s['invalid'] or 'none'}"
        )
        echo("    " + ", ".join(f"{k} {v}" for k, v in nonzero.items()))
