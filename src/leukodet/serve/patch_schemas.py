"""The JSON bodies of patch labelling (``/v1/analyses/{id}/fields/{n}/...``), as pydantic models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, FiniteFloat

from .schemas import Reviewed

__all__ = [
    "BoxAdd",
    "BoxChange",
    "ExportSummary",
    "FieldLabelState",
    "PatchComplete",
    "PatchSet",
    "Undo",
]

Rect = Annotated[
    list[FiniteFloat],
    Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in the field image's pixels"),
]


class PatchSet(Reviewed):
    """Move the patch (same size, dragged) or draw another one; it must lie inside the image."""

    region: Rect
    how: Literal["move", "draw"] = Field("move", description="logged as patch_move or patch_draw")


class PatchComplete(Reviewed):
    """The patch is labelled completely: the model's boxes in it left as they are are confirmed."""


class Undo(Reviewed):
    """Take back the last action on the field (the rows of its latest request)."""


class BoxAdd(Reviewed):
    """A box for a cell the model missed."""

    box: Rect
    class_: str = Field(alias="class", min_length=1, examples=["Lymphocyte"])


class BoxChange(Reviewed):
    """One change to one box of the field: ``confirm``, ``reclassify`` (needs ``class``), ``reject`` or
    ``resize`` (needs ``box``). On a model cell the first three are the review's ``confirm``, ``reclassify``
    and ``not_wbc``; rejecting an added box takes it out."""

    action: Literal["confirm", "reclassify", "reject", "resize"]
    class_: str | None = Field(None, alias="class", min_length=1)
    box: Rect | None = None


class FieldLabelState(BaseModel):
    """The labelling state of one field."""

    field: int
    image: str
    width: int
    height: int
    patch: dict[str, Any] = Field(
        description="region [x1, y1, x2, y2], origin (proposed/moved/drawn), complete"
    )
    completed: dict[str, str] | None = Field(description="reviewer and time of the completion, if complete")
    proposal: dict[str, Any] = Field(description="the proposed patch: region, score, value, fraction, ...")
    boxes: list[dict[str, Any]] = Field(
        description="id, box, class, source (model/added), model_box, model_class, score, reviewed, rejected, "
        "resized, in_patch (centre inside the patch)"
    )
    can_undo: bool


class ExportSummary(BaseModel):
    """What the COCO export of the analysis holds, and how to retrain on it."""

    fields: int = Field(description="fields of the analysis")
    fields_complete: int = Field(description="fields whose patch is complete")
    images: int = Field(description="images in the export")
    regions: int = Field(description="labelled regions in the export")
    boxes: int = Field(description="boxes in the export")
    boxes_per_class: dict[str, int]
    labelled_area_share: float = Field(description="share of the exported images' area inside a region")
    command: str = Field(description="the retrain command (<export>: the unzipped export's folder)")
