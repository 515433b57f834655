"""Image files: locate them from candidate paths and read their size from the header only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .diagnostics import DataError

__all__ = ["IMAGE_SUFFIXES", "image_size", "resolve_image", "list_images"]

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def image_size(path: Path) -> tuple[int, int]:
    """Return ``(width, height)`` reading only the header; ``DataError`` naming the file if missing/corrupt."""
    try:
        with Image.open(path) as im:
            width, height = im.size
    except FileNotFoundError:
        raise DataError(f"{path}: image file is missing") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: image is corrupt or not an image ({exc})") from None
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: image has an empty size {width}x{height}")
    return int(width), int(height)


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
