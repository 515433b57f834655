"""The JSON bodies of the service, as pydantic models (they make the OpenAPI document at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "Analysis",
    "AnalysisList",
    "AnalysisSummary",
    "Created",
    "Error",
    "Health",
    "ModelDescription",
    "QueueState",
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
        description="the film report (schema leukodet.report/1, see docs/report.md)"
    )


class Analysis(AnalysisSummary):
    """One stored analysis: its summary, report and the addresses of its other resources."""

    report: dict[str, Any] = Field(description="the film report (schema leukodet.report/1)")
    links: dict[str, str] = Field(description="report_html, cell (a template with {n}) and self")


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
