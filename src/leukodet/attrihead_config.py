"""Run configuration of what the AttriHead sees of a cell (issue #23): section ``attrihead`` of a run's config.

The defaults are the paper's head (§3.2, Eqs. 1-2; spec §3): a ``24 × 30`` ROIAlign window on the stride-4
(``stem``) and stride-8 (``c3_p3``) backbone maps, exactly the detected box. Each field is a switch whose effect
is measured in docs/attributes.md; a trained checkpoint carries the values in its model config, so inference
rebuilds the head it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TAP_STRIDES", "AttriHeadConfig", "parse_taps"]

TAP_STRIDES: dict[str, int] = {"stem": 4, "c3_p3": 8, "c3_p4": 16}
"""Backbone maps the head can pool, with their strides (spec modules 1, 4 and 6)."""


def parse_taps(text: str) -> tuple[str, ...]:
    """``"stem,c3_p3"`` → ``("stem", "c3_p3")``; ``ValueError`` naming an unknown or repeated map."""
    taps = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in taps if t not in TAP_STRIDES]
    if not taps or unknown or len(set(taps)) != len(taps):
        raise ValueError(
            f"attrihead.taps: expected distinct maps among {', '.join(TAP_STRIDES)} (comma-separated), got {text!r}"
        )
    return taps


@dataclass(frozen=True)
class AttriHeadConfig:
    """The AttriHead's view of each cell (the paper's values by default)."""

    roi: tuple[int, int] = (24, 30)
    """ROIAlign output (height, width) of Eq. 2: the paper's ``24 × 30``; e.g. ``[32, 32]`` for a square one."""
    taps: str = "stem,c3_p3"
    """Comma-separated backbone maps pooled and concatenated (:data:`TAP_STRIDES`): the paper's stride 4 and 8;
    adding ``c3_p4`` (stride 16) gives the head a coarser, wider view."""
    context: float = 0.0
    """Each box is widened on every side by this fraction of its width and height before pooling (0 = the
    box, as the paper), so the head sees the cell's surroundings (its size against neighbouring red cells)."""
    flip_tta: bool = False
    """At inference, average each attribute's probabilities over the field and its left-right mirror (a second
    forward pass; in val, predict, report, serve and the ONNX graph). Training is unchanged."""

    def __post_init__(self) -> None:
        h, w = self.roi
        if not (8 <= h <= 64 and 8 <= w <= 64):
            raise ValueError(f"attrihead.roi: expected two sizes in 8-64, got {list(self.roi)}")
        if not 0.0 <= self.context <= 1.0:
            raise ValueError(f"attrihead.context: expected 0 <= value <= 1, got {self.context}")
        parse_taps(self.taps)

    def model_fields(self) -> dict[str, object]:
        """The :class:`~leukodet.model.config.ModelConfig` fields these values set."""
        return {
            "attribute_roi": tuple(self.roi),
            "attribute_taps": parse_taps(self.taps),
            "attribute_context": self.context,
            "attribute_flip": self.flip_tta,
        }
