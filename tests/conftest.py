"""Shared fixtures: tiny on-disk datasets built in a temporary folder, and the ../shared locator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leukodet.records import LLD_CLASSES, Cell, Dataset, Domain, ImageRecord, lld_schema

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test when it is absent."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is not beside the checkout)")
    return path


TINY_CLASSES = ["None", "Myeloblast", "Lymphoblast"]


def tiny_checkpoint(path: Path, classes: list[str] = TINY_CLASSES, imgsz: int = 64) -> Path:
    """An untrained ``test_tiny`` detector (seed-0 weights, fast and deterministic) saved at ``path``."""
    import torch

    from leukodet.model.checkpoint import save_checkpoint
    from leukodet.model.registry import create_model

    torch.manual_seed(0)
    model = create_model("test_tiny", len(classes))
    meta = {"classes": list(classes), "imgsz": imgsz, "model_config": model.config.to_dict()}
    return save_checkpoint(path, model.state_dict(), meta)


def write_image(path: Path, width: int, height: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def lld_dataset(root: Path, with_regions: bool = True) -> Dataset:
    """Three splits, LLD classes and attributes, a domain, and (optionally) every kind of labelled region."""
    schema = lld_schema()
    rng = np.random.default_rng(1)
    records = []
    for i, split in enumerate(["train", "train", "train", "train", "val", "test"]):
        w, h = (640, 640) if i % 2 == 0 else (800, 448)
        img = write_image(root / "src" / f"img{i}.png", w, h, i)
        cells = []
        for _ in range(3 if i != 3 else 0):
            x1, y1 = float(rng.uniform(0, w - 80)), float(rng.uniform(0, h - 80))
            bw, bh = float(rng.uniform(10, 70)), float(rng.uniform(10, 70))
            cls = int(rng.integers(0, len(LLD_CLASSES)))
            attrs = {a.name: (None if cls == 0 else int(rng.integers(0, 2))) for a in schema}
            cells.append(Cell((x1, y1, x1 + bw, y1 + bh), cls, attrs))
        regions = None
        if with_regions and split == "train":
            regions = [
                ((0.0, 0.0, w / 2.0, h / 2.0),),
                None,
                (),
                ((0.0, 0.0, 100.0, 100.0), (200.0, 200.0, 300.0, 300.0)),
            ][i]
            if regions:
                regions = (regions[0],) if i == 0 else regions
        if with_regions and i == 0:
            x1, y1, x2, y2 = 0.0, 0.0, w / 2.0, h / 2.0
            cells = [Cell((x1 + 5, y1 + 5, x1 + 40, y1 + 40), 3, {a.name: 1 for a in schema})] + [
                c for c in cells if c.center[0] <= x2 and c.center[1] <= y2
            ]
        records.append(ImageRecord(img, w, h, split, tuple(cells), regions, Domain("HCM", "100x", "C2")))
    return Dataset(records, list(LLD_CLASSES), schema)
