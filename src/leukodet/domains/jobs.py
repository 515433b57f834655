"""The domains package's user jobs as :mod:`leukodet.api` exposes them: ``api.transfer`` and ``api.locate``.

OpenCV and the records readers are imported when a job runs, so importing the API stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["transfer", "locate"]


def transfer(
    source_image: str | Path,
    source_labels: str | Path,
    target_image: str | Path,
    out: str | Path,
    *,
    names: str | None = None,
    target_domain: str | None = None,
    min_kept: float = 0.5,
    overwrite: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """Carry the labels of ``source_image`` onto ``target_image`` (the same area seen at another magnification,
    or with another microscope or camera) through a SIFT + RANSAC homography.

    ``source_labels``: a YOLO ``.txt`` (class names from ``names``, else a neighbouring ``data.yaml`` /
    ``classes.txt``), VOC ``.xml``, COCO ``.json`` or a dataset holding the image. Writes, under ``out``, the
    mapped labels in the source's format as ``<target stem>.<ext>`` (only when the pair is accepted),
    ``transfer.json`` and ``transfer_overlay.png``; returns the ``transfer.json`` document (``accepted``
    false = refused). See docs/domains.md.
    """
    from ..records.files import ensure_empty_dir
    from .transfer import run_transfer

    if not 0.0 <= min_kept <= 1.0:
        raise ValueError(f"min_kept must be within 0..1, got {min_kept}")
    ensure_empty_dir(Path(out), overwrite)
    return run_transfer(
        source_image,
        source_labels,
        target_image,
        out,
        names=names,
        target_domain=target_domain,
        min_kept=min_kept,
        strict=strict,
    )


def locate(
    patch: str | Path, field: str | Path, out: str | Path | None = None, *, overwrite: bool = False
) -> dict[str, Any]:
    """Where the magnified ``patch`` image (e.g. a 100x view) lies inside the ``field`` image (e.g. 40x): the
    patch corners as a quadrilateral and its box, in field pixels. With ``out``, also writes ``locate.json``
    and ``locate_overlay.png`` there. Returns the ``locate.json`` document. See docs/domains.md."""
    from ..records.files import ensure_empty_dir
    from .locate import run_locate

    if out is not None:
        ensure_empty_dir(Path(out), overwrite)
    return run_locate(patch, field, out)
