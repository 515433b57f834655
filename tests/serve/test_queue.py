"""The bounded queue: analyses run off the event loop, and a request beyond the queue answers 503 at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from leukodet.infer.predictor import Detector

from .conftest import TestClient, upload


class GatedDetector:
    """The real detector, held at the gate until the test opens it (a busy worker, deterministically)."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.metadata = inner.metadata
        self.attributes = inner.attributes
        self.entered = threading.Event()
        self.gate = threading.Event()

    def predict(self, images: Sequence[Any], **kwargs: Any) -> list:
        self.entered.set()
        assert self.gate.wait(20), "the test never opened the gate"
        return self.inner.predict(images, **kwargs)


def test_full_queue_answers_503_while_the_service_stays_responsive(
    make_client: Callable[..., TestClient], detector: Detector, images: dict[str, bytes]
) -> None:
    gated = GatedDetector(detector)
    client = make_client(detector=gated, queue_size=0)
    files = upload(("f.png", images["PNG"]))
    answers: list = []
    worker = threading.Thread(target=lambda: answers.append(client.post("/v1/analyses", files=files)))
    worker.start()
    try:
        assert gated.entered.wait(20), "the first analysis never started"
        busy = client.post("/v1/analyses", files=files)
        assert busy.status_code == 503 and "queue is full" in busy.json()["detail"]
        assert busy.headers["retry-after"] == "5"
        health = client.get("/v1/health")  # the event loop is free while the model works
        assert health.status_code == 200
        assert health.json()["queue"] == {"running": 1, "waiting": 0, "workers": 1, "queue_size": 0}
    finally:
        gated.gate.set()
        worker.join(30)
    assert answers[0].status_code == 201
    assert client.post("/v1/analyses", files=files).status_code == 201  # the place is free again
    assert client.get("/v1/analyses").json()["total"] == 2


def test_one_waiting_place_admits_exactly_one_more(
    make_client: Callable[..., TestClient], detector: Detector, images: dict[str, bytes]
) -> None:
    gated = GatedDetector(detector)
    client = make_client(detector=gated, queue_size=1)
    files = upload(("f.png", images["PNG"]))
    answers: list = []
    threads = [
        threading.Thread(target=lambda: answers.append(client.post("/v1/analyses", files=files)))
        for _ in range(2)
    ]
    threads[0].start()
    try:
        assert gated.entered.wait(20)
        threads[1].start()
        for _ in range(200):  # the second request takes the one waiting place
            if client.get("/v1/health").json()["queue"]["waiting"] == 1:
                break
            threading.Event().wait(0.05)
        assert client.get("/v1/health").json()["queue"]["waiting"] == 1
        assert client.post("/v1/analyses", files=files).status_code == 503
    finally:
        gated.gate.set()
        for t in threads:
            t.join(30)
    assert sorted(a.status_code for a in answers) == [201, 201]
