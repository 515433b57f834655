"""Safe file output: atomic text writes and image placement, so nothing already written is half-overwritten."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes", "inside", "place_image", "unique_names"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8, ``\\n`` line endings, atomic."""
    atomic_write_bytes(path, text.encode("utf-8"))


def inside(root: Path, name: str) -> Path | None:
    """``root / name`` when it stays inside ``root`` (no ``..`` escape, no absolute path), else ``None``.

    The check is lexical: a path a label file names must not leave its data set's folder, but a symbolic link
    the owner of the data set placed inside it is followed as usual.
    """
    if "\0" in name:
        return None
    base = os.path.normpath(os.path.abspath(root))
    target = os.path.normpath(os.path.join(base, name))
    return Path(target) if os.path.commonpath([base, target]) == base else None


def place_image(source: Path, target: Path) -> None:
    """Put a copy of ``source`` at ``target`` (hard link when possible); no-op if they are the same file."""
    if target.exists() and source.resolve() == target.resolve():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def unique_names(paths: list[Path], where: str) -> list[str]:
    """File names for ``paths`` inside one output folder; ``DataError`` if two images share a name."""
    from .diagnostics import DataError

    seen: dict[str, Path] = {}
    for p in paths:
        if p.name in seen and seen[p.name] != p:
            raise DataError(f"{where}: two images share the file name {p.name!r} ({seen[p.name]} and {p})")
        seen[p.name] = p
    return [p.name for p in paths]
