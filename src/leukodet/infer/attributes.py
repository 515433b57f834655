"""Attributes at inference: run the AttriHead on the kept detections and name each cell's values.

Each attribute's logit group is turned into probabilities with a softmax over its ``K`` values and the arg-max
value is reported with its probability (the authors' test-time rule, spec §3.4 step 4). A model whose config sets
``attribute_flip`` (``attrihead.flip_tta``) averages those probabilities over the field and its mirror
(``mirrored``: the mirror's features; the boxes are mirrored to match).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..model.attrihead import mean_probability_logits, mirror_boxes, split_logits
from ..model.postprocess import Detections
from ..records.prediction import AttributeCall

__all__ = ["attribute_schema_of", "decode_attributes", "attach_attributes"]


def attribute_schema_of(model: torch.nn.Module, metadata: Mapping[str, object]) -> dict[str, list[str]]:
    """The model's attribute vocabulary ``{name: values}``: empty unless it has an AttriHead."""
    head = getattr(model, "attribute_head", None)
    schema = metadata.get("attributes") or {}
    if head is None or not isinstance(schema, Mapping):
        return {}
    order = list(metadata.get("attribute_order") or schema)  # the JSON metadata has sorted keys
    if sorted(order) != sorted(schema):
        raise ValueError(f"checkpoint attribute_order {order} does not name its attributes {sorted(schema)}")
    sizes = [len(schema[name]) for name in order]
    if tuple(sizes) != tuple(head.sizes):
        raise ValueError(
            f"checkpoint attribute schema {sizes} does not match its AttriHead {list(head.sizes)}"
        )
    return {str(k): [str(x) for x in schema[k]] for k in order}


def decode_attributes(logits: Tensor, schema: Mapping[str, Sequence[str]]) -> list[dict[str, AttributeCall]]:
    """Per box ``{attribute: AttributeCall(value, probability)}`` from ``[N, Σ K_a]`` logits."""
    names = list(schema)
    groups = split_logits(logits.float(), [len(schema[n]) for n in names])
    probs = [g.softmax(1) for g in groups]
    best = [p.max(1) for p in probs]
    out: list[dict[str, AttributeCall]] = []
    for i in range(logits.shape[0]):
        out.append(
            {
                name: AttributeCall(schema[name][int(idx[i])], round(float(score[i]), 5))
                for name, (score, idx) in zip(names, best)
            }
        )
    return out


@torch.no_grad()
def attach_attributes(
    model: torch.nn.Module,
    features: dict[str, Tensor],
    detections: Sequence[Detections],
    schema: Mapping[str, Sequence[str]],
    only: Sequence[Sequence[int] | None] | None = None,
    chunk: int = 512,
    mirrored: tuple[dict[str, Tensor], int] | None = None,
) -> list[list[dict[str, AttributeCall]]]:
    """Attribute calls for the kept detections of every image (boxes in network pixels), in chunks.

    ``only[b]`` limits image ``b`` to those detection indices (the others get ``{}``): evaluation needs the
    calls of the detections matched to ground truth alone, which saves running the head on every box kept at
    conf 0.001. ``mirrored`` = (the features of the left-right mirrored batch, its width in pixels) adds the
    mirror view to each cell's call (the mean of both views' probabilities).
    """
    head = getattr(model, "attribute_head", None)
    out = [[{} for _ in range(len(d.scores))] for d in detections]
    if head is None or not schema:
        return out
    for b, det in enumerate(detections):
        feats = {k: v[b : b + 1] for k, v in features.items()}
        idx = list(range(len(det.boxes))) if only is None or only[b] is None else sorted(set(only[b]))
        for start in range(0, len(idx), chunk):
            part = idx[start : start + chunk]
            boxes = det.boxes[part].to(next(iter(feats.values())).dtype)
            logits = head(feats, [boxes])
            if mirrored is not None:
                flipped = head(
                    {k: v[b : b + 1] for k, v in mirrored[0].items()}, [mirror_boxes(boxes, mirrored[1])]
                )
                logits = mean_probability_logits([logits, flipped], head.sizes)
            for i, call in zip(part, decode_attributes(logits, schema)):
                out[b][i] = call
    return out
