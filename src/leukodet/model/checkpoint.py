"""Checkpoints: one self-contained ``.pt`` of tensors plus a JSON metadata string, loaded with ``weights_only``.

Layout: ``{"format": "leukodet-checkpoint", "version": 1, "metadata": <JSON str>, "model": state_dict,
"ema": state_dict | None, "train_state": {...} | None, "digest": <sha256 hex of the inference tensors>,
"full_digest": <sha256 hex of the metadata, every tensor and the training state>}``. Both digests are checked on
load (a checkpoint written before ``full_digest`` existed has the first only), so a byte changed anywhere, in the
training weights ``--resume`` reads as much as in the EMA weights, is refused.
Metadata holds the class names, attribute schema, model config, image size, recipe and a training-data summary.
Writes are atomic (temporary file + rename); a tampered or foreign file gives :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..bundled import BundleError, resolve_weights
from ..records.files import atomic_write_bytes

__all__ = ["FORMAT", "CheckpointError", "full_digest", "state_digest", "save_checkpoint", "load_checkpoint"]

FORMAT = "leukodet-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The file is not a readable leukodet checkpoint (message names the file and the reason)."""


def state_digest(state: dict[str, Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of a state dict (order-independent)."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _feed(h: Any, value: Any, where: str) -> None:
    """Hash ``value`` (nested dicts, lists, tensors, scalars) in a canonical order, its position included."""
    if isinstance(value, Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"{where}|tensor|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(f"{where}|dict|{len(value)}|".encode())
        for key in sorted(value, key=repr):
            _feed(h, value[key], f"{where}/{key!r}")
    elif isinstance(value, (list, tuple)):
        h.update(f"{where}|{type(value).__name__}|{len(value)}|".encode())
        for i, item in enumerate(value):
            _feed(h, item, f"{where}[{i}]")
    else:
        h.update(f"{where}|{type(value).__name__}|{value!r}|".encode())


def full_digest(payload: dict[str, Any]) -> str:
    """SHA-256 over a checkpoint's metadata string, model, EMA and training state (not the digests)."""
    h = hashlib.sha256()
    for key in ("format", "version", "metadata", "model", "ema", "train_state"):
        _feed(h, payload.get(key), key)
    return h.hexdigest()


def save_checkpoint(
    path: str | Path,
    model: dict[str, Tensor],
    metadata: dict[str, Any],
    ema: dict[str, Tensor] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Atomically write a checkpoint; ``digest`` covers the weights used for inference (EMA if given),
    ``full_digest`` everything else too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "metadata": json.dumps(metadata, sort_keys=True),
        "model": {k: v.detach().cpu() for k, v in model.items()},
        "ema": None if ema is None else {k: v.detach().cpu() for k, v in ema.items()},
        "train_state": train_state,
        "digest": state_digest(ema if ema is not None else model),
    }
    payload["full_digest"] = full_digest(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and verify a checkpoint (``weights_only=True``); ``metadata`` is returned parsed. ``path`` may name
    a bundled model (:func:`leukodet.bundled.resolve_weights`: loaded after its SHA-256 check)."""
    try:
        path = resolve_weights(path)
    except BundleError as exc:
        raise CheckpointError(str(exc)) from None
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        AttributeError,
        KeyError,
        TypeError,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable leukodet checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a leukodet checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {ckpt.get('version')} is not supported (expected {VERSION})"
        )
    if "full_digest" in ckpt and full_digest(ckpt) != ckpt["full_digest"]:
        raise CheckpointError(f"{path}: checkpoint does not match its digest (file modified or corrupt)")
    try:
        ckpt["metadata"] = json.loads(ckpt["metadata"])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: checkpoint metadata is missing or corrupt") from None
    weights = ckpt["ema"] if ckpt.get("ema") is not None else ckpt.get("model")
    if not isinstance(weights, dict) or state_digest(weights) != ckpt.get("digest"):
        raise CheckpointError(f"{path}: checkpoint does not match its digest (file modified or corrupt)")
    return ckpt
