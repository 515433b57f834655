"""Start a detector from a trained one whose class or attribute lists differ: rows are matched by name.

Fine-tuning ``--model general-n`` (or any checkpoint) on a data set with another class list keeps every weight
that still means the same thing:

* the backbone, neck and every other tensor whose name and shape match are copied;
* the detection head's 1×1 convolutions (:mod:`leukodet.model.head`, rows ``(tx, ty, tw, th, obj, class_0 …)``
  per anchor) keep the box and objectness rows of every anchor and the row of every class whose *name* is in
  both lists (exact, case-sensitive, as evaluation matches classes: :func:`leukodet.eval.class_map.map_classes`);
  a class missing by exact name starts from a related row (:func:`class_sources`): the same name up to case and
  a plural ``s`` (BCCD's ``Platelets`` from LLD's ``Platelet``), or a generic ``WBC`` from the mean of the
  source's LLD WBC-type rows (``synth-n`` names every WBC by its type); rows of classes with neither keep their
  fresh initialisation (the class-prior bias);
* the AttriHead's output layer keeps the logit of every (attribute, value) pair named in both schemas; its other
  layers are copied when their shapes match.

Nothing is matched by index: a class that moved position keeps its own row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..records.vocab import LLD_WBC_TYPES

__all__ = ["TransferReport", "class_sources", "transfer_weights"]


@dataclass
class TransferReport:
    """What :func:`transfer_weights` kept and what starts fresh (the trainer logs it)."""

    kept_classes: list[str] = field(default_factory=list)
    new_classes: list[str] = field(default_factory=list)
    derived_classes: list[str] = field(default_factory=list)
    """Classes started from related rows, as ``"target <- source rows"``."""
    dropped_classes: list[str] = field(default_factory=list)
    kept_attribute_values: list[str] = field(default_factory=list)
    new_attribute_values: list[str] = field(default_factory=list)
    copied: int = 0
    reinitialised: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per kind."""
        out = [
            f"classes kept from the checkpoint: {', '.join(self.kept_classes) or 'none'}",
            f"classes new (initialised): {', '.join(self.new_classes) or 'none'}",
        ]
        if self.derived_classes:
            out.append(f"classes started from related rows: {'; '.join(self.derived_classes)}")
        if self.dropped_classes:
            out.append(f"checkpoint classes not in the data (dropped): {', '.join(self.dropped_classes)}")
        if self.kept_attribute_values or self.new_attribute_values:
            out.append(f"attribute values kept: {len(self.kept_attribute_values)}")
            out.append(f"attribute values new: {', '.join(self.new_attribute_values) or 'none'}")
        out.append(f"tensors copied whole: {self.copied}; initialised: {len(self.reinitialised)}")
        return out


def _flat_values(attributes: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """``(attribute, value)`` of every logit of an AttriHead output layer, in logit order."""
    return [(name, value) for name, values in attributes.items() for value in values]


def _plain(name: str) -> str:
    """A class name up to case and a plural ``s``."""
    low = name.strip().lower()
    return low[:-1] if low.endswith("s") and len(low) > 3 else low


def class_sources(src_classes: Sequence[str], dst_classes: Sequence[str]) -> dict[int, list[int]]:
    """For each destination class with a source, the source class indices whose rows start it: its own name;
    else the same name up to case and a plural ``s``; else, for ``WBC``, every LLD WBC type of the source
    (the mean of their rows). Destination classes with none are absent (fresh initialisation)."""
    exact = {name: i for i, name in enumerate(src_classes)}
    plain = {_plain(name): i for i, name in enumerate(src_classes)}
    types = [i for i, name in enumerate(src_classes) if name in LLD_WBC_TYPES]
    out: dict[int, list[int]] = {}
    for j, name in enumerate(dst_classes):
        if name in exact:
            out[j] = [exact[name]]
        elif _plain(name) in plain:
            out[j] = [plain[_plain(name)]]
        elif name.upper() == "WBC" and types:
            out[j] = types
    return out


def _head_rows(
    num_anchors: int, src_classes: Sequence[str], dst_classes: Sequence[str]
) -> list[tuple[int, list[int]]]:
    """``(destination row, source rows)`` pairs of a detection-head convolution: box and objectness rows of every
    anchor, and each class row with a source (:func:`class_sources`)."""
    sources = class_sources(src_classes, dst_classes)
    n_src, n_dst = 5 + len(src_classes), 5 + len(dst_classes)
    pairs: list[tuple[int, list[int]]] = []
    for a in range(num_anchors):
        pairs += [(a * n_dst + k, [a * n_src + k]) for k in range(5)]
        pairs += [(a * n_dst + 5 + j, [a * n_src + 5 + i for i in rows]) for j, rows in sources.items()]
    return pairs


def _copy_rows(dst: Tensor, src: Tensor, pairs: Sequence[tuple[int, list[int]]]) -> bool:
    """Set each ``dst[d]`` to the mean of the rows ``src[s]`` (one row: a copy) when the rows have the same
    shape; False when they do not."""
    if dst.shape[1:] != src.shape[1:] or not pairs:
        return False
    for d, rows in pairs:
        dst[d] = src[rows].mean(0).to(dst.dtype)
    return True


def _output_layer_keys(model: nn.Module) -> tuple[set[str], set[str]]:
    """State-dict keys of the detection head's convolutions and of the AttriHead's output layer."""
    head = {f"head.convs.{i}.{p}" for i in range(len(model.head.convs)) for p in ("weight", "bias")}
    attr: set[str] = set()
    if getattr(model, "attribute_head", None) is not None:
        last = len(model.attribute_head.classifier) - 1
        attr = {f"attribute_head.classifier.{last}.{p}" for p in ("weight", "bias")}
    return head, attr


@torch.no_grad()
def transfer_weights(
    model: nn.Module,
    source: Mapping[str, Tensor],
    source_classes: Sequence[str],
    target_classes: Sequence[str],
    source_attributes: Mapping[str, Sequence[str]] | None = None,
    target_attributes: Mapping[str, Sequence[str]] | None = None,
) -> TransferReport:
    """Load ``source`` (a trained detector's state dict) into ``model`` (built for ``target_classes`` and,
    when it has an AttriHead, ``target_attributes`` in its logit order), matching class and attribute rows by
    name. Returns what was kept and what starts from its initialisation."""
    sources = class_sources(source_classes, target_classes)
    src_names, dst_names = set(source_classes), set(target_classes)
    report = TransferReport(
        kept_classes=[c for c in target_classes if c in src_names],
        new_classes=[c for j, c in enumerate(target_classes) if j not in sources],
        derived_classes=[
            f"{c} <- {_describe([source_classes[i] for i in sources[j]])}"
            for j, c in enumerate(target_classes)
            if j in sources and c not in src_names
        ],
        dropped_classes=[c for c in source_classes if c not in dst_names],
    )
    state = model.state_dict()
    head_keys, attr_keys = _output_layer_keys(model)
    pairs_head = _head_rows(model.head.num_anchors, source_classes, target_classes)
    src_vals, dst_vals = _flat_values(source_attributes or {}), _flat_values(target_attributes or {})
    at = {v: i for i, v in enumerate(src_vals)}
    pairs_attr = [(j, [at[v]]) for j, v in enumerate(dst_vals) if v in at]
    if attr_keys:
        report.kept_attribute_values = [f"{a}={v}" for a, v in dst_vals if (a, v) in at]
        report.new_attribute_values = [f"{a}={v}" for a, v in dst_vals if (a, v) not in at]
    for key, value in state.items():
        theirs = source.get(key)
        if theirs is None:
            report.reinitialised.append(key)
        elif key in head_keys or key in attr_keys:
            if not _copy_rows(value, theirs, pairs_head if key in head_keys else pairs_attr):
                report.reinitialised.append(key)
        elif theirs.shape == value.shape:
            value.copy_(theirs.to(value.dtype))
            report.copied += 1
        else:
            report.reinitialised.append(key)
    model.load_state_dict(state)
    return report


def _describe(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"mean of {len(names)} WBC types"
