"""Image files: locate them from candidate paths and read their size from the header only."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .diagnostics import DataError, Diagnostics
from .schema import ImageRecord

__all__ = [
    "IMAGE_SUFFIXES",
    "check_decodes",
    "decodable_records",
    "image_size",
    "resolve_image",
    "list_images",
]

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def image_size(path: Path) -> tuple[int, int]:
    """Return ``(width, height)`` reading only the header; ``DataError`` naming the file if missing/corrupt."""
    try:
        with Image.open(path) as im:
            width, height = im.size
    except FileNotFoundError:
        raise DataError(f"{path}: image file is missing") from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path}: image refused as a decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: image is corrupt or not an image ({exc})") from None
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: image has an empty size {width}x{height}")
    return int(width), int(height)


def check_decodes(path: Path) -> None:
    """Decode the whole image (header, then every pixel); ``DataError`` naming the file and the reason for a
    missing, truncated, corrupt or decompression-bomb image."""
    image_size(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{path}: image refused as a decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: image does not decode ({exc})") from None


def decodable_records(records: Sequence[ImageRecord], diag: Diagnostics) -> list[ImageRecord]:
    """The records whose image decodes, split by split; each one that does not is reported once (file and
    reason) as ``unreadable_image`` and left out (in strict mode the first one raises)."""
    verdict: dict[Path, bool] = {}
    for rec in records:
        if rec.path not in verdict:
            diag.set_split(rec.split)
            try:
                check_decodes(rec.path)
                verdict[rec.path] = True
            except DataError as exc:
                diag.report(rec.path, None, "unreadable_image", str(exc).split(": ", 1)[-1])
                verdict[rec.path] = False
    return [r for r in records if verdict[r.path]]


def resolve_image(candidates: Sequence[Path], referenced_by: str) -> Path:
    """Return the first existing candidate; ``DataError`` naming every path tried otherwise."""
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise DataError(f"{referenced_by}: image not found (tried: {tried})")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
