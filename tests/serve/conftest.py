"""Shared fixtures of the service tests: a tiny trained checkpoint, field images in every accepted format, and
an app factory on a fresh data directory."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from leukodet import api
from leukodet.infer.predictor import Detector
from leukodet.serve import create_app
from leukodet.synth import render_field

with warnings.catch_warnings():  # starlette prefers the httpx2 fork; plain httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as _TestClient

SIZE = 160


class TestClient(_TestClient):
    """FastAPI's client, addressing the service as ``http://127.0.0.1`` (it refuses other host names)."""

    __test__ = False  # not a test class

    def __init__(self, app: Any, **options: Any) -> None:
        options.setdefault("base_url", "http://127.0.0.1")
        super().__init__(app, **options)


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``test_tiny`` checkpoint trained for one epoch on six synthetic 160-pixel fields (seconds)."""
    root = tmp_path_factory.mktemp("serve_tiny")
    data = api.synth(root / "data", images=6, seed=3, size=SIZE)
    api.train(
        data,
        model="test_tiny",
        epochs=1,
        imgsz=SIZE,
        batch=4,
        out=root / "run",
        progress=False,
        overrides=["augment.mosaic=0"],
    )
    return root / "run" / "weights" / "last.pt"


@pytest.fixture(scope="session")
def detector(weights: Path) -> Detector:
    return Detector.load(weights)


def field_array(seed: int, size: int = SIZE) -> np.ndarray:
    return render_field(seed, size=size).image


def encode(image: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="session")
def images() -> dict[str, bytes]:
    """One synthetic field in each accepted format."""
    return {fmt: encode(field_array(i + 1), fmt) for i, fmt in enumerate(["PNG", "JPEG", "TIFF"])}


@pytest.fixture(scope="session")
def conf(detector: Detector, images: dict[str, bytes]) -> float:
    """A threshold that keeps a few cells of ``images``, at least one in each, whatever the tiny model learned (its
    scores are low): the sixth best score over all of them, lowered to each image's best where that is lower."""
    arrays = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in images.values()]
    per_image = [p.scores for p in detector.predict(arrays, conf=0.0)]
    scores = np.sort(np.concatenate(per_image))[::-1]
    floor = min(float(s.max()) for s in per_image)
    # a hair below: the untrained scores tie
    return min(float(scores[min(5, len(scores) - 1)]), floor) * 0.999


@pytest.fixture
def make_client(detector: Detector, conf: float, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """``make_client(**create_app_options)``: a started TestClient on ``tmp_path / "data"`` (closed after)."""
    opened: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        options.setdefault("conf", conf)
        client = TestClient(create_app(options.pop("detector", detector), tmp_path / "data", **options))
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def upload(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    """``files=`` for TestClient: (file name, content) pairs in the ``files`` field."""
    return [("files", (name, content)) for name, content in items]
