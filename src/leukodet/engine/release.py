"""Release checkpoints: the inference weights of a training checkpoint in half precision, with a model card.

A training checkpoint carries the raw weights, the EMA weights and the optimiser state (about 4× the model). A
release keeps only the weights inference uses (the EMA's), stores floating-point tensors as ``float16`` (they
are cast back to the model's ``float32`` when loaded) and adds ``metadata["card"]``. It is still an ordinary
checkpoint: every loader (``predict``, ``val``, ``report``, ``serve``, ``export``, fine-tuning) reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from ..model.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["half_state", "pack_release"]


def half_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``float32``/``float64`` tensors as ``float16``; integer buffers (``num_batches_tracked``) unchanged."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def pack_release(source: str | Path, target: str | Path, card: dict[str, Any]) -> Path:
    """Write the release form of checkpoint ``source`` to ``target`` (atomic) with ``card`` in its metadata."""
    ckpt = load_checkpoint(source)
    weights = ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"]
    metadata = {**ckpt["metadata"], "card": card}
    return save_checkpoint(target, half_state(weights), metadata)
