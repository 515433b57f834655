"""Translate a prediction's attribute calls into another vocabulary (e.g. WBCAtt → LLD, ``WBCATT_TO_LLD``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..records.prediction import AttributeCall, Prediction
from ..records.vocab import WBCATT_TO_LLD

__all__ = ["AttributeMap", "translate_attributes", "ATTRIBUTE_MAPS"]

AttributeMap = Mapping[str, tuple[str, Mapping[str, str]]]
"""Source attribute → (target attribute, {source value: target value})."""

ATTRIBUTE_MAPS: dict[str, AttributeMap] = {"wbcatt-to-lld": WBCATT_TO_LLD}
"""Named maps (the ``--attribute-map`` choices)."""


def translate_attributes(pred: Prediction, mapping: AttributeMap) -> Prediction:
    """The same detections with attribute calls renamed by ``mapping``; unmapped attributes are dropped.

    Raises:
        ValueError: a call's value has no entry in the map (the map does not fit the model).
    """
    if pred.attributes is None:
        return pred
    out: list[dict[str, AttributeCall]] = []
    for calls in pred.attributes:
        new: dict[str, AttributeCall] = {}
        for name, call in calls.items():
            if name not in mapping:
                continue
            target, values = mapping[name]
            if call.value not in values:
                raise ValueError(f"attribute {name!r}: value {call.value!r} has no entry in the map")
            new[target] = AttributeCall(values[call.value], call.score)
        out.append(new)
    return replace(pred, attributes=out)
