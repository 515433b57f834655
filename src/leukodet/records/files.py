"""Safe file output: atomic text writes and image placement, so nothing already written is half-overwritten."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .diagnostics import DataError

__all__ = [
    "atomic_write_text",
    "atomic_write_bytes",
    "ensure_empty_dir",
    "inside",
    "place_image",
    "unique_names",
]


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


def inside(root: Path, name: str, within: list[Path] | None = None) -> Path | None:
    """``root / name`` when it stays inside ``root`` (or inside one of ``within``, the data set's folders): no
    ``..`` escape beyond them, no absolute path elsewhere; else ``None``.

    The check is lexical: a path a label file names must not leave its data set's folders, but a symbolic link
    the owner of the data set placed inside them is followed as usual.
    """
    if "\0" in name:
        return None
    target = os.path.normpath(os.path.join(os.path.abspath(root), name))
    for folder in within or [root]:
        base = os.path.normpath(os.path.abspath(folder))
        if os.path.commonpath([base, target]) == base:
            return Path(target)
    return None


def place_image(source: Path, target: Path) -> None:
    """Put a copy of ``source`` at ``target`` (hard link when possible); no-op if they are the same file;
    ``DataError`` naming ``source`` when it does not exist."""
    if target.exists() and source.resolve() == target.resolve():
        return
    if not source.is_file():
        from .diagnostics import DataError

        raise DataError(f"{source}: image file is missing (cannot copy it to {target})")
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


def ensure_empty_dir(path: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty folder unless ``overwrite`` (nothing already written is lost)."""
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise DataError(f"{path}: folder is not empty (pass --overwrite to write into it)")
