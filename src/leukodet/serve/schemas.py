"""The JSON bodies of the service, as pydantic models (they make the OpenAPI document at ``/openapi.json``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Analysis",
    "AnalysisList",
    "AnalysisSummary",
    "AuditEntry",
    "AuditLog",
    "Change",
    "Confirm",
    "Created",
    "Error",
    "Health",
    "ModelDescription",
    "NotWbc",
    "QueueState",
    "Reclassify",
    "ReviewRequest",
    "SetAttribute",
]


class Error(BaseModel):
    """Every refusal and error: one human-readable message."""

    detail: str = Field(examples=["scan.gif: not a PNG, JPEG or TIFF image (judged from its content)"])


class AnalysisSummary(BaseModel):
    """An analysis as the index knows it."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", examples=["mZ3kq0cV1w8XbWq9pY2rTg"])
    created: str = Field(
        description="ISO 8601 time (UTC) of the report", examples=["2025-05-01T09:30:12+00:00"]
    )
    n_files: int = Field(description="field images analysed")
    n_cells: int = Field(description="cells kept in the report, all classes")
    status: str = Field(description="always 'done': an analysis is stored once it has finished")


class Created(BaseModel):
    """The answer to ``POST /v1/analyses``."""

    id: str
    report: dict[str, Any] = Field(
        description="the film report (schema leukodet.report/2, see docs/report.md)"
    )


class Analysis(AnalysisSummary):
    """One stored analysis: its summary, report and the addresses of its other resources."""

    report: dict[str, Any] = Field(description="the film report (schema leukodet.report/2)")
    links: dict[str, str] = Field(
        description="self, report_html, report_json, cells_csv, cell, field_image and patch (templates with "
        "{n}), review, audit, export_coco and export_summary"
    )


class AnalysisList(BaseModel):
    """One page of analyses, newest first."""

    items: list[AnalysisSummary]
    total: int = Field(description="analyses stored in all")
    limit: int
    offset: int


class QueueState(BaseModel):
    """The analysis queue now."""

    running: int
    waiting: int
    workers: int
    queue_size: int


class Health(BaseModel):
    """Liveness: the model is loaded and the queue's state."""

    status: str = Field(examples=["ok"])
    uptime_s: float
    analyses: int = Field(description="analyses stored")
    queue: QueueState


class ModelDescription(BaseModel):
    """The loaded model and how the service uses it."""

    weights: str | None = Field(description="checkpoint file name")
    name: str | None = Field(description="architecture name from the checkpoint")
    classes: list[str]
    attributes: dict[str, list[str]] = Field(description="attribute name -> values (empty without AttriHead)")
    imgsz: int | None
    recipe: Any = None
    training_data: dict[str, Any] = Field(description="source, train_images, train_boxes, val_images")
    leukodet: str | None = Field(description="leukodet version the checkpoint was trained with")
    version: str = Field(description="leukodet version of this service")
    conf: float = Field(description="confidence threshold of every analysis")


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cell: int = Field(
        ge=0, strict=True, description="the cell's id in report.cells (an integer; true is not 1)"
    )


class Reclassify(_Change):
    """Give a cell another class of the model."""

    action: Literal["reclassify"]
    class_: str = Field(alias="class", min_length=1, examples=["Lymphocyte"])


class SetAttribute(_Change):
    """Set one attribute of a cell to another value of the model's schema."""

    action: Literal["attribute"]
    attribute: str = Field(min_length=1, examples=["nucleoli"])
    value: str = Field(min_length=1, examples=["prominent"])


class NotWbc(_Change):
    """The cell is not a WBC: it moves to the class counted apart (``None``, or ``not a WBC``)."""

    action: Literal["not_wbc"]


class Confirm(_Change):
    """The model's call for the cell is right as it stands (marks it reviewed, changes nothing)."""

    action: Literal["confirm"]


Change = Annotated[Union[Reclassify, SetAttribute, NotWbc, Confirm], Field(discriminator="action")]


class Reviewed(BaseModel):
    """A request signed by a reviewer (kept in the audit log): a printable, non-blank name, spaces collapsed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    reviewer: str = Field(min_length=1, max_length=100, description="who acts (kept in the audit log)")

    @field_validator("reviewer")
    @classmethod
    def _printable(cls, value: str) -> str:
        name = " ".join(value.split())
        if not name or not name.isprintable():
            raise ValueError("reviewer must be a printable, non-blank name")
        return name


class ReviewRequest(Reviewed):
    """A reviewer's changes to the cells of one analysis, applied in order, all or none."""

    changes: list[Change] = Field(min_length=1, max_length=10_000)


class AuditEntry(BaseModel):
    """One change to one cell."""

    time: str = Field(description="ISO 8601 time (UTC)", examples=["2025-05-01T09:41:07.512+00:00"])
    reviewer: str
    cell: int
    action: str = Field(
        description="reclassify, attribute, not_wbc or confirm; patch labelling: patch_move, patch_draw, box_add, "
        "resize, reject, patch_complete, undo"
    )
    field: str = Field(
        description="'class', 'attributes.<name>', 'reviewed', 'box' or 'patch.<field>'", examples=["class"]
    )
    before: Any = Field(examples=["Myeloblast"])
    after: Any = Field(examples=["Lymphocyte"])


class AuditLog(BaseModel):
    """Every change made to an analysis, oldest first."""

    id: str
    entries: list[AuditEntry]
