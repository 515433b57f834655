"""Uploaded field images: the multipart body read under limits, types sniffed from content, decoding checked.

Nothing about an upload is trusted: its type comes from its first bytes (PNG, JPEG or TIFF signature), never
from its file name or declared content type; the client's file name is only a label in the report (reduced to
a safe base name). Every refusal is an :class:`UploadError` carrying its HTTP status:

* 413: the body, a file, the number of files or an image's pixel count is over its limit;
* 415: not a multipart form, or a file that is not a PNG, JPEG or TIFF;
* 422: a malformed form (no ``files``), or an image that does not decode.

Reading (:func:`read_uploads`) happens on the event loop and only looks at the first bytes of each file;
decoding (:func:`stage_uploads`) runs in the analysis worker thread.
"""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

__all__ = ["FIELD", "KINDS", "Limits", "StagedField", "Upload", "UploadError", "read_uploads", "sniff"]

FIELD = "files"
"""The multipart field that carries the images."""

KINDS: dict[str, tuple[tuple[bytes, ...], str, str]] = {
    "png": ((b"\x89PNG\r\n\x1a\n",), "PNG", "png"),
    "jpeg": ((b"\xff\xd8\xff",), "JPEG", "jpg"),
    "tiff": ((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"), "TIFF", "tif"),
}
"""Accepted types: magic numbers, Pillow format name, stored file extension."""

MiB = 1024 * 1024
_log = logging.getLogger(__name__)
_FORM_OVERHEAD = MiB  # part headers and boundaries on top of the images themselves
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class Limits:
    """What one request may carry (the defaults are the documented ones).

    Attributes:
        max_file_bytes: largest image file.
        max_files: most images per request.
        max_pixels: most pixels (width x height) per image, checked from the header before decoding.
        max_request_pixels: most pixels of all the images of one request together (the worker time one
            request may take), checked from the headers before any image is decoded.
    """

    max_file_bytes: int = 20 * MiB
    max_files: int = 64
    max_pixels: int = 50_000_000
    max_request_pixels: int = 400_000_000

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_files", "max_pixels", "max_request_pixels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def max_body_bytes(self) -> int:
        """Largest request body: every file at its limit plus the form's own bytes."""
        return self.max_files * self.max_file_bytes + _FORM_OVERHEAD


class UploadError(Exception):
    """A refused upload: ``status`` is the HTTP status, ``message`` the JSON ``detail``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    """A received image, its type sniffed but not yet decoded.

    Attributes:
        name: a safe label for the report (from the client's file name, or ``field_<i>``).
        kind: a key of :data:`KINDS`.
        file: the spooled bytes (owned by the request's form).
        size: bytes.
    """

    name: str
    kind: str
    file: BinaryIO
    size: int


@dataclass(frozen=True)
class StagedField:
    """An upload written into an analysis folder and decoded once: the detector and the report's crops read
    ``pixels``, never the file again.

    Attributes:
        name: the label shown in the report.
        original: the stored upload, as received.
        image: the stored field image (the original, or a PNG copy of a TIFF).
        width: pixels.
        height: pixels.
        pixels: ``HxWx3`` uint8 RGB, turned upright by its EXIF orientation (as OpenCV reads files).
    """

    name: str
    original: Path
    image: Path
    width: int
    height: int
    pixels: np.ndarray = field(repr=False, compare=False)


def sniff(head: bytes) -> str | None:
    """The image kind (a key of :data:`KINDS`) whose magic number starts ``head``, else ``None``."""
    for kind, (magics, _, _) in KINDS.items():
        if any(head.startswith(m) for m in magics):
            return kind
    return None


def safe_name(name: str | None, index: int) -> str:
    """A label for the client's file name: base name only, unusual characters replaced, at most 120 chars."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    clean = _SAFE_NAME.sub("_", base).strip(" .")[:120]
    return clean or f"field_{index}"


async def _bounded(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``stream`` that stops with 413 once more than ``limit`` bytes have come (chunked bodies too)."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise UploadError(413, f"request body over {limit} bytes")
        yield chunk


async def _parse(request: Request, limits: Limits) -> FormData:
    """The multipart form, parsed under the body and file-count limits."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UploadError(415, f"expected a multipart/form-data body with the images in the field {FIELD!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise UploadError(413, f"request body of {declared} bytes is over {limits.max_body_bytes} bytes")
    parser = MultiPartParser(
        request.headers,
        _bounded(request.stream(), limits.max_body_bytes),
        max_files=limits.max_files,
        max_fields=16,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise UploadError(413, f"more than {limits.max_files} files in one request") from None
        raise UploadError(422, f"malformed multipart body: {exc.message}") from None


async def _checked(index: int, item: UploadFile | str, limits: Limits) -> Upload:
    """One form item as an :class:`Upload` (size and sniffed type checked)."""
    if not isinstance(item, UploadFile):
        raise UploadError(422, f"field {FIELD!r} item {index}: expected a file, got a text value")
    name = safe_name(item.filename, index)
    size = int(item.size or 0)
    if size > limits.max_file_bytes:
        raise UploadError(
            413, f"{name}: {size} bytes is over the {limits.max_file_bytes}-byte limit per file"
        )
    head = await item.read(16)
    await item.seek(0)
    kind = sniff(head)
    if kind is None:
        raise UploadError(415, f"{name}: not a PNG, JPEG or TIFF image (judged from its content)")
    return Upload(name, kind, item.file, size)


async def read_uploads(request: Request, limits: Limits) -> tuple[list[Upload], FormData]:
    """The images of a ``POST /v1/analyses`` request, checked for size and type (not yet decoded).

    Returns the uploads and the form (close it when done: it owns the spooled files).
    """
    form = await _parse(request, limits)
    try:
        items = form.getlist(FIELD)
        if not items:
            raise UploadError(422, f"no images: send one or more files in the multipart field {FIELD!r}")
        return [await _checked(i, item, limits) for i, item in enumerate(items)], form
    except BaseException:
        await form.close()
        raise


def _decode(path: Path, kind: str, limits: Limits, name: str) -> Image.Image:
    """Open ``path`` as ``kind`` only, refuse too many pixels before decoding, then decode it fully."""
    image = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings (our own pixel limit applies), bad EXIF, ...
            image = Image.open(path, formats=[KINDS[kind][1]])
            width, height = image.size
            if width * height > limits.max_pixels:
                raise UploadError(
                    413, f"{name}: {width}x{height} pixels is over the {limits.max_pixels}-pixel limit"
                )
            image.load()
        return image
    except Exception as exc:  # Pillow reports malformed data as OSError, SyntaxError, ValueError, ...
        if image is not None:
            image.close()
        if isinstance(exc, UploadError):
            raise
        if isinstance(exc, Image.DecompressionBombError):
            raise UploadError(413, f"{name}: too many pixels to decode safely") from None
        _log.info("refused %s: %s: %s", name, type(exc).__name__, exc)
        raise UploadError(
            422, f"{name}: corrupt or malformed {KINDS[kind][1]} image (it does not decode)"
        ) from None


def _header_pixels(upload: Upload) -> int:
    """Pixels an upload declares in its header (0 when the header does not read: decoding will say why)."""
    upload.file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(upload.file, formats=[KINDS[upload.kind][1]]) as image:
                width, height = image.size
    except Exception:  # a malformed header is refused, with its reason, when the image is decoded
        return 0
    finally:
        upload.file.seek(0)
    return int(width) * int(height)


def _check_request_pixels(uploads: list[Upload], limits: Limits) -> None:
    """413 when the request's images declare more pixels together than ``limits.max_request_pixels``."""
    pixels = [_header_pixels(u) for u in uploads]
    if max(pixels, default=0) > limits.max_pixels:
        return  # one image over its own limit: refused by name when it is decoded
    total = sum(pixels)
    if total > limits.max_request_pixels:
        raise UploadError(
            413,
            f"{len(uploads)} images of {total / 1e6:.3g} megapixels in all are over the "
            f"{limits.max_request_pixels / 1e6:.3g}-megapixel limit of one request; send fewer or smaller images",
        )


def stage_uploads(uploads: list[Upload], folder: Path, limits: Limits) -> list[StagedField]:
    """Write each upload into ``folder`` (``000.png``, ``001.jpg``, ...) and decode it once, to check it and
    to keep its pixels for the analysis.

    A TIFF is also saved as ``NNN.png`` (RGB), which the detector reads instead of the TIFF.
    """
    folder.mkdir(parents=True, exist_ok=True)
    _check_request_pixels(uploads, limits)
    staged = []
    for i, upload in enumerate(uploads):
        original = folder / f"{i:03d}.{KINDS[upload.kind][2]}"
        upload.file.seek(0)
        with original.open("wb") as fh:
            shutil.copyfileobj(upload.file, fh, 1 << 20)
        image = _decode(original, upload.kind, limits, upload.name)
        with image:
            rgb = ImageOps.exif_transpose(image).convert("RGB")
            target = original
            if upload.kind == "tiff":
                target = original.with_suffix(".png")
                rgb.save(target, format="PNG")
            pixels = np.asarray(rgb, dtype=np.uint8)
        height, width = pixels.shape[:2]
        staged.append(StagedField(upload.name, original, target, width, height, pixels))
    return staged
