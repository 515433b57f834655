"""Every endpoint through FastAPI's TestClient with a real tiny model, and persistence across a restart."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from leukodet import __version__
from leukodet.serve import create_app

from .conftest import TestClient, upload


def _film(client: TestClient, images: dict[str, bytes]) -> dict:
    files = upload(("a.png", images["PNG"]), ("b.jpg", images["JPEG"]), ("c.tif", images["TIFF"]))
    response = client.post("/v1/analyses", files=files)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/analyses/{response.json()['id']}"
    return response.json()


def test_post_analysis_returns_the_film_report(
    make_client: Callable[..., TestClient], images: dict[str, bytes], conf: float
) -> None:
    client = make_client()
    body = _film(client, images)
    assert set(body) == {"id", "report"}
    report = body["report"]
    assert report["schema"] == "leukodet.report/2" and report["threshold"] == conf
    assert [f["image"] for f in report["fields"]] == ["a.png", "b.jpg", "c.tif"]  # names, not server paths
    assert all(f["width"] == f["height"] == 160 for f in report["fields"])
    assert report["cells"], "the conf fixture keeps a few cells"
    assert report["differential"]["total"] + sum(a["count"] for a in report["differential"]["apart"]) == len(
        report["cells"]
    )
    assert "not a diagnosis" in report["disclaimer"]


def test_get_analysis_report_html_and_cells(
    make_client: Callable[..., TestClient], images: dict[str, bytes]
) -> None:
    client = make_client()
    created = _film(client, images)
    aid = created["id"]
    got = client.get(f"/v1/analyses/{aid}").json()
    assert got["id"] == aid and got["status"] == "done" and got["n_files"] == 3
    assert got["n_cells"] == len(created["report"]["cells"]) and got["report"] == created["report"]
    assert got["links"]["report_html"] == f"/v1/analyses/{aid}/report.html"
    page = client.get(got["links"]["report_html"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        page.text.startswith("<!DOCTYPE html>")
        and "default-src 'none'" in page.headers["content-security-policy"]
    )
    last = len(created["report"]["cells"]) - 1
    for n in (0, last):
        crop = client.get(got["links"]["cell"].format(n=n))
        assert crop.status_code == 200 and crop.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(crop.content)).format == "PNG"
    assert client.get(f"/v1/analyses/{aid}/cells/{last + 1}.png").status_code == 404


def test_list_is_paged_newest_first_and_delete_removes(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path
) -> None:
    client = make_client()
    ids = [client.post("/v1/analyses", files=upload(("f.png", images["PNG"]))).json()["id"] for _ in range(3)]
    page = client.get("/v1/analyses", params={"limit": 2, "offset": 0}).json()
    assert page["total"] == 3 and page["limit"] == 2 and len(page["items"]) == 2
    rest = client.get("/v1/analyses", params={"limit": 2, "offset": 2}).json()["items"]
    listed = [item["id"] for item in page["items"] + rest]
    assert sorted(listed) == sorted(ids) and listed[0] == ids[-1]
    assert set(page["items"][0]) == {"id", "created", "n_files", "n_cells", "status"}
    assert client.get("/v1/analyses", params={"limit": 0}).status_code == 422
    assert client.get("/v1/analyses", params={"offset": -1}).status_code == 422
    assert client.delete(f"/v1/analyses/{ids[0]}").status_code == 204
    assert client.get(f"/v1/analyses/{ids[0]}").status_code == 404
    assert client.delete(f"/v1/analyses/{ids[0]}").status_code == 404
    assert not (tmp_path / "data" / "analyses" / ids[0]).exists()
    assert client.get("/v1/analyses").json()["total"] == 2


def test_health_model_and_openapi(make_client: Callable[..., TestClient], conf: float) -> None:
    client = make_client(weights_name="last.pt")
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["analyses"] == 0
    assert health["queue"] == {"running": 0, "waiting": 0, "workers": 1, "queue_size": 16}
    model = client.get("/v1/model").json()
    assert (
        model["weights"] == "last.pt" and model["name"] == "test_tiny" and model["classes"][1] == "Myeloblast"
    )
    assert model["training_data"]["train_images"] >= 1 and model["version"] == __version__
    assert model["conf"] == conf and model["leukodet"] == __version__
    assert isinstance(model["attributes"], dict)
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/analyses",
        "/v1/analyses/{analysis_id}",
        "/v1/analyses/{analysis_id}/report.html",
        "/v1/analyses/{analysis_id}/cells/{n}.png",
        "/v1/health",
        "/v1/model",
    } <= set(spec["paths"])
    post = spec["paths"]["/v1/analyses"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "413", "415", "422", "503"} <= set(post["responses"])


def test_a_restarted_service_keeps_every_analysis(
    make_client: Callable[..., TestClient], images: dict[str, bytes]
) -> None:
    first = make_client()
    created = _film(first, images)
    kept = first.get(f"/v1/analyses/{created['id']}").json()
    html = first.get(f"/v1/analyses/{created['id']}/report.html").content
    second = make_client()  # a new app instance on the same data directory
    assert second.get(f"/v1/analyses/{created['id']}").json() == kept
    assert second.get(f"/v1/analyses/{created['id']}/report.html").content == html
    assert second.get(f"/v1/analyses/{created['id']}/cells/0.png").status_code == 200
    assert second.get("/v1/analyses").json()["total"] == 1
    assert second.get("/v1/health").json()["analyses"] == 1


def test_client_file_names_are_only_labels(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path
) -> None:
    client = make_client()
    response = client.post("/v1/analyses", files=upload(("../../x/<b>evil|name.png", images["PNG"])))
    assert response.status_code == 201, response.text
    assert response.json()["report"]["fields"][0]["image"] == "_b_evil_name.png"
    stored = sorted(
        p.name for p in (tmp_path / "data" / "analyses" / response.json()["id"] / "uploads").iterdir()
    )
    assert stored == ["000.png"] and not (tmp_path / "x").exists()


class BrokenDetector:
    metadata = {"classes": ["None", "Myeloblast"], "imgsz": 160}

    def predict(self, images: object, **kwargs: object) -> list:
        raise RuntimeError("model exploded")


def test_an_internal_failure_is_a_json_500_and_stores_nothing(
    images: dict[str, bytes], tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(BrokenDetector(), tmp_path / "data")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/analyses", files=upload(("f.png", images["PNG"])))
        assert response.status_code == 500 and response.json() == {
            "detail": "internal error (see the service log)"
        }
        assert client.get("/v1/analyses").json()["total"] == 0
    assert not any((tmp_path / "data" / "staging").iterdir())
    assert "model exploded" in caplog.text
