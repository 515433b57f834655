"""What ``leukodet predict`` and ``leukodet report`` read: image files, folders, list files, glob patterns and,
where pyarrow is installed, URIs of any file system pyarrow reads (``s3://bucket/films/``, ``gs://…``,
``hdfs://…``, ``file:///…``).

A source list expands to a list of :data:`Source` items: a local image is a :class:`~pathlib.Path`, an image
behind a URI stays its URI string. Only the listing happens where the sources are expanded (the driver of a Ray
run); each image is opened and decoded by :func:`read_image` in the process that predicts it, a Ray worker on
another node included.
"""

from __future__ import annotations

import glob
import logging
import mimetypes
import posixpath
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Union
from urllib.parse import SplitResult, urlsplit

import cv2
import numpy as np

from ..data.dataset import load_image
from ..records.images import IMAGE_SUFFIXES

__all__ = ["LIST_SUFFIXES", "Source", "expand_sources", "is_uri", "read_image", "source_stem"]

log = logging.getLogger(__name__)

Source = Union[Path, str]
"""A local image file (``Path``) or the URI of an image on a pyarrow file system (``str``)."""

LIST_SUFFIXES = (".txt", ".lst")
"""A source with one of these suffixes is a list file: one image per line, a path relative to the list's folder
or a URI (blank lines and ``#`` comments skipped)."""

PYARROW_INSTALL = "reading URIs needs pyarrow: pip install pyarrow (or 'leukodet[ray]', which brings it)"

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(source: object) -> bool:
    """Whether ``source`` is a URI string (``scheme://…``) rather than a local path."""
    return isinstance(source, str) and bool(_URI.match(source))


def source_stem(source: Source) -> str:
    """The file name without its suffix, of a path or a URI (its query ignored)."""
    return PurePosixPath(urlsplit(source).path).stem if is_uri(source) else Path(source).stem


def read_image(source: Source) -> np.ndarray:
    """Decode a local image or one behind a URI as RGB ``uint8[H, W, 3]``; ``OSError`` naming it otherwise."""
    if not is_uri(source):
        return load_image(str(source))
    fs, path = _open_uri(str(source))
    try:
        with fs.open_input_stream(path) as fh:
            data = fh.read()
    except (OSError, FileNotFoundError) as exc:
        raise OSError(f"{source}: cannot be read ({exc})") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{source}: cannot decode image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def expand_sources(sources: Sequence[str | Path], exclude: Path | None = None) -> list[Source]:
    """Files as given, folders expanded to their images (sorted), list files (:data:`LIST_SUFFIXES`) to the
    images they list, glob patterns (``fields/**/*.png``) to their matches (sorted) and URIs (``s3://…``; a
    file, a list file or a folder, read through pyarrow) to theirs; a missing source is an error naming it.

    Images inside the folder ``exclude`` (the output folder, which may lie inside a source folder and fills
    up with annotated PNGs while shards run) are left out, so the list is the same for every shard and re-run.
    """
    skip = exclude.resolve() if exclude is not None else None
    outside = lambda p: skip is None or skip not in p.resolve().parents  # noqa: E731
    out: list[Source] = []
    for src in sources:
        path = Path(src)
        if is_uri(src):
            out += _expand_uri(str(src))
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            out += _list_file(path)
        elif not path.exists() and glob.has_magic(str(src)):
            matches = sorted(Path(m) for m in glob.glob(str(src), recursive=True))
            out += [p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and outside(p)]
        elif path.is_dir():
            out += [p for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and outside(p)]
            _warn_unsupported(path)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    if not out:
        raise FileNotFoundError(f"no images found in {', '.join(map(str, sources))}")
    return out


def _list_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, entry)`` of a list file's text, blank lines and ``#`` comments skipped."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def _list_file(path: Path) -> list[Source]:
    """The images a local list file names; a ``FileNotFoundError`` naming the list, the line and the missing
    path (a listed URI is checked when it is read)."""
    listed: list[Source] = []
    for number, line in _list_lines(path.read_text(encoding="utf-8")):
        if is_uri(line):
            listed.append(line)
            continue
        image = path.parent / line
        if not image.is_file():
            raise FileNotFoundError(f"{path}, line {number}: no such image {image}")
        listed.append(image)
    return listed


def _pyarrow_fs() -> Any:
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise ValueError(PYARROW_INSTALL) from None
    return pafs


def _open_uri(uri: str) -> tuple[Any, str]:
    """``(pyarrow file system, path on it)`` of ``uri``; a ``ValueError`` for a URI pyarrow cannot open."""
    pafs = _pyarrow_fs()
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # ArrowInvalid, ArrowNotImplementedError (unknown scheme), OSError
        raise ValueError(f"{uri}: not a URI pyarrow can open ({exc})") from None


def _with_path(parts: SplitResult, path: str) -> str:
    """``parts`` (a split URI) with another path, its query kept."""
    return parts._replace(path=path).geturl()


def _expand_uri(uri: str) -> list[Source]:
    """The images of a URI: the file itself, a list file's entries (relative to its folder) or, for a folder,
    its images (recursive, sorted)."""
    pafs = _pyarrow_fs()
    fs, root = _open_uri(uri)
    parts = urlsplit(uri)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{uri}: no such image or folder")
    if info.type == pafs.FileType.File and PurePosixPath(root).suffix.lower() not in LIST_SUFFIXES:
        return [uri]
    if info.type == pafs.FileType.File:  # a list file
        with fs.open_input_stream(root) as fh:
            text = fh.read().decode("utf-8")
        folder = posixpath.dirname(parts.path)
        listed = [(n, e if is_uri(e) else _with_path(parts, posixpath.normpath(posixpath.join(folder, e))))
                  for n, e in _list_lines(text)]  # fmt: skip
        for number, image in listed:
            other, path = _open_uri(image)
            if other.get_file_info(path).type != pafs.FileType.File:
                raise FileNotFoundError(f"{uri}, line {number}: no such image {image}")
        return [image for _, image in listed]
    found = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    base = parts.path.rstrip("/")
    images = sorted(f.path[len(root.rstrip("/")):] for f in found if f.type == pafs.FileType.File
                    and PurePosixPath(f.path).suffix.lower() in IMAGE_SUFFIXES)  # fmt: skip
    return [_with_path(parts, base + rest) for rest in images]


def _warn_unsupported(folder: Path) -> None:
    """Say which files of ``folder`` look like images (by name) but are not a supported type (a GIF, HEIC ...)."""
    odd = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in IMAGE_SUFFIXES
        and (mimetypes.guess_type(p.name)[0] or "").startswith("image/")
    )
    if odd:
        names = ", ".join(p.name for p in odd[:5]) + (f" and {len(odd) - 5} more" if len(odd) > 5 else "")
        log.warning(
            "%s: %d files skipped, not a supported image type (%s): %s",
            folder, len(odd), " ".join(IMAGE_SUFFIXES), names,
        )  # fmt: skip
