"""The review API: changes recompute differential, flags and text; the audit log; refusals; the COCO export.

The detector is :class:`TruthDetector` (the synthetic fields' own labels, LLD classes and attributes), so every
film has known WBCs to review.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from leukodet.records import load_source
from leukodet.serve import create_app
from leukodet.serve.export import cells_csv
from leukodet.serve.rebuild import rebuild_report

from .conftest import TestClient, upload
from .truth import TruthDetector

SEEDS = (2, 4)


@pytest.fixture(scope="module")
def truth() -> TruthDetector:
    return TruthDetector(SEEDS, size=320)


@pytest.fixture
def client(truth: TruthDetector, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(truth, tmp_path / "data")) as c:
        yield c


def _film(client: TestClient, truth: TruthDetector) -> tuple[str, dict[str, Any]]:
    files = upload(*((f"field{i}.png", truth.field_png(i)) for i in range(len(SEEDS))))
    response = client.post("/v1/analyses", files=files)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["report"]


def _review(client: TestClient, aid: str, *changes: dict[str, Any], reviewer: str = "Dr Ada") -> Any:
    return client.post(f"/v1/analyses/{aid}/review", json={"reviewer": reviewer, "changes": list(changes)})


def _counts(report: dict[str, Any]) -> dict[str, int]:
    return {row["class"]: row["count"] for row in report["differential"]["classes"]}


def _wbcs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in report["cells"] if c["class"] != "None"]


def test_reclassify_recomputes_differential_flags_and_text(client: TestClient, truth: TruthDetector) -> None:
    aid, before = _film(client, truth)
    top, _ = Counter(c["class"] for c in _wbcs(before)).most_common(1)[0]
    assert f"Predominant type: {top}" in before["text"]
    assert "suspected_apl" not in [f["id"] for f in before["flags"]["fired"]]
    moved = [c["id"] for c in _wbcs(before) if c["class"] == top]
    changes = [{"action": "reclassify", "cell": n, "class": "Abnormal promyelocyte"} for n in moved]
    response = _review(client, aid, *changes)
    assert response.status_code == 200, response.text
    after = response.json()["report"]
    assert _counts(after)["Abnormal promyelocyte"] == len(moved) and _counts(after)[top] == 0
    assert "Predominant type: Abnormal promyelocyte" in after["text"] and after["text"] != before["text"]
    assert "suspected_apl" in [f["id"] for f in after["flags"]["fired"]]
    assert after["review"]["reviewed_cells"] == moved == after["review"]["changed_cells"]
    assert all(after["cells"][n]["model_output"]["class"] == top for n in moved)
    assert client.get(f"/v1/analyses/{aid}").json()["report"] == after  # stored, not just answered
    html = client.get(f"/v1/analyses/{aid}/report.html").text
    assert 'id="review-note"' in html and "Reviewed by Dr Ada" in html
    folder = client.app.state.service.storage.folder(aid)
    assert json.loads((folder / "model_report.json").read_text()) == before  # the model's output is kept
    assert "Reviewed by Dr Ada" in (folder / "report.md").read_text()


def test_attribute_edit_and_not_a_wbc_recompute(client: TestClient, truth: TruthDetector) -> None:
    aid, before = _film(client, truth)
    wbcs = _wbcs(before)
    majority = before["attributes"]["overall"]["nucleoli"]["majority"]
    other = "prominent" if majority == "inconspicuous" else "inconspicuous"
    edits = [{"action": "attribute", "cell": c["id"], "attribute": "nucleoli", "value": other} for c in wbcs]
    after = _review(client, aid, *edits).json()["report"]
    assert f"{other} nucleoli" in after["text"] and f"{majority} nucleoli" not in after["text"]
    assert after["attributes"]["overall"]["nucleoli"]["counts"][other] == len(wbcs)
    assert after["cells"][wbcs[0]["id"]]["attributes"]["nucleoli"] == {"value": other, "score": None}
    gone = wbcs[0]
    after = _review(client, aid, {"action": "not_wbc", "cell": gone["id"]}).json()["report"]
    diff = after["differential"]
    assert diff["total"] == before["differential"]["total"] - 1
    assert (
        sum(a["count"] for a in diff["apart"]) == sum(a["count"] for a in before["differential"]["apart"]) + 1
    )
    assert _counts(after)[gone["class"]] == _counts(before)[gone["class"]] - 1
    assert after["text"].startswith(f"{len(wbcs) - 1} WBCs in 2 fields.")
    assert after["cells"][gone["id"]]["class"] == "None" and len(after["cells"]) == len(before["cells"])


def test_the_audit_log_holds_who_when_before_and_after(
    client: TestClient, truth: TruthDetector, tmp_path: Path
) -> None:
    aid, report = _film(client, truth)
    assert client.get(f"/v1/analyses/{aid}/audit").json() == {"id": aid, "entries": []}
    cell = _wbcs(report)[0]
    start = dt.datetime.now(dt.timezone.utc)
    new_class = "Lymphocyte" if cell["class"] != "Lymphocyte" else "Monocyte"
    _review(client, aid, {"action": "reclassify", "cell": cell["id"], "class": new_class})
    _review(
        client,
        aid,
        {"action": "reclassify", "cell": cell["id"], "class": new_class},  # no change: not logged
        {"action": "confirm", "cell": 0 if cell["id"] else 1},
        reviewer="  Dr   Bea ",
    )
    entries = client.get(f"/v1/analyses/{aid}/audit").json()["entries"]
    assert [(e["reviewer"], e["cell"], e["action"], e["field"]) for e in entries] == [
        ("Dr Ada", cell["id"], "reclassify", "class"),
        ("Dr Bea", 0 if cell["id"] else 1, "confirm", "reviewed"),
    ]
    assert (entries[0]["before"], entries[0]["after"]) == (cell["class"], new_class)
    assert (entries[1]["before"], entries[1]["after"]) == (False, True)
    for e in entries:
        when = dt.datetime.fromisoformat(e["time"])
        assert when.utcoffset() == dt.timedelta(0) and start - dt.timedelta(seconds=1) <= when
    lines = (tmp_path / "data" / "analyses" / aid / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == entries
    with TestClient(create_app(truth, tmp_path / "data")) as again:  # kept across a restart
        assert again.get(f"/v1/analyses/{aid}/audit").json()["entries"] == entries
    assert client.get("/v1/analyses/NoSuchAnalysis1/audit").status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"action": "reclassify", "cell": 999, "class": "Lymphocyte"}, 404, "no cell 999 in this analysis"),
        (
            {"action": "reclassify", "cell": 0, "class": "Blast"},
            422,
            "unknown class 'Blast' (the model's classes: None",
        ),
        (
            {"action": "attribute", "cell": 0, "attribute": "size", "value": "big"},
            422,
            "unknown attribute 'size'",
        ),
        (
            {"action": "attribute", "cell": 0, "attribute": "nucleoli", "value": "huge"},
            422,
            "attribute 'nucleoli' has no value 'huge' (allowed: inconspicuous, prominent)",
        ),
        ({"action": "reclassify", "cell": 0}, 422, "changes.1.reclassify.class: Field required"),
        ({"action": "delete", "cell": 0}, 422, "does not match any of the expected tags"),
        ({"action": "confirm", "cell": -1}, 422, "changes.1.confirm.cell"),
        ({"action": "confirm", "cell": True}, 422, "changes.1.confirm.cell: Input should be a valid integer"),
        ({"action": "confirm", "cell": "0"}, 422, "changes.1.confirm.cell: Input should be a valid integer"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    client: TestClient, truth: TruthDetector, change: dict[str, Any], status: int, message: str
) -> None:
    aid, report = _film(client, truth)
    good = {"action": "reclassify", "cell": 1, "class": "Basophil"}
    response = _review(client, aid, good, change)  # the good change is not applied either
    assert response.status_code == status and message in response.json()["detail"], response.text
    assert isinstance(response.json()["detail"], str)
    assert client.get(f"/v1/analyses/{aid}").json()["report"] == report
    assert client.get(f"/v1/analyses/{aid}/audit").json()["entries"] == []
    assert not (client.app.state.service.storage.folder(aid) / "model_report.json").exists()


def test_bad_review_bodies_are_refused(client: TestClient, truth: TruthDetector) -> None:
    aid, _ = _film(client, truth)
    confirm = [{"action": "confirm", "cell": 0}]
    for body, message in [
        ({"reviewer": "", "changes": confirm}, "reviewer: String should have at least 1 character"),
        ({"reviewer": "   ", "changes": confirm}, "reviewer must be a printable, non-blank name"),
        ({"changes": confirm}, "reviewer: Field required"),
        ({"reviewer": "A", "changes": []}, "changes: List should have at least 1 item"),
        ({"reviewer": "A", "changes": confirm, "extra": 1}, "extra: Extra inputs are not permitted"),
    ]:
        response = client.post(f"/v1/analyses/{aid}/review", json=body)
        assert response.status_code == 422 and message in response.json()["detail"], response.text
    response = client.post(
        f"/v1/analyses/{aid}/review", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)
    assert _review(client, "NoSuchAnalysis1", *confirm).status_code == 404


def test_a_huge_review_body_is_refused_before_it_is_parsed(client: TestClient, truth: TruthDetector) -> None:
    from leukodet.serve.app import JSON_BODY_LIMIT

    aid, report = _film(client, truth)
    big = b'{"reviewer": "A", "changes": [' + b'{"action": "confirm", "cell": 0},' * 200_000 + b"]}"
    assert len(big) > JSON_BODY_LIMIT
    response = client.post(
        f"/v1/analyses/{aid}/review", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.json() == {
        "detail": f"request body over {JSON_BODY_LIMIT} bytes"
    }

    def chunks():  # no Content-Length: counted while it streams in
        for i in range(0, len(big), 1 << 16):
            yield big[i : i + 1 << 16]

    streamed = client.post(
        f"/v1/analyses/{aid}/review", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and "request body over" in streamed.json()["detail"]
    assert client.get(f"/v1/analyses/{aid}/audit").json()["entries"] == []


@pytest.mark.parametrize(
    "query,message",
    [
        ("offset=99999999999999999999999", "offset: Input should be less than or equal to 1000000000"),
        ("offset=-1", "offset: Input should be greater than or equal to 0"),
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=x", "limit: Input should be a valid integer"),
    ],
)
def test_bad_query_parameters_are_one_line_422s(client: TestClient, query: str, message: str) -> None:
    response = client.get(f"/v1/analyses?{query}")
    assert response.status_code == 422 and response.json()["detail"].startswith(f"query.{message}")


def test_a_report_left_behind_its_log_by_a_crash_is_brought_up_to_date(
    client: TestClient, truth: TruthDetector
) -> None:
    aid, report = _film(client, truth)
    reviewed = _review(client, aid, {"action": "reclassify", "cell": 0, "class": "Basophil"}).json()["report"]
    folder = client.app.state.service.storage.folder(aid)
    (folder / "report.json").write_text(json.dumps(report))  # as if the service died between log and report
    again = _review(client, aid, {"action": "reclassify", "cell": 0, "class": "Basophil"})  # changes nothing
    assert again.json()["report"] == reviewed == client.get(f"/v1/analyses/{aid}").json()["report"]
    assert len(client.get(f"/v1/analyses/{aid}/audit").json()["entries"]) == 1


def test_a_restart_rebuilds_a_report_a_crash_left_behind_its_log(
    truth: TruthDetector, tmp_path: Path
) -> None:
    with TestClient(create_app(truth, tmp_path / "data")) as client:
        aid, report = _film(client, truth)
        reviewed = _review(client, aid, {"action": "reclassify", "cell": 0, "class": "Basophil"}).json()
        folder = client.app.state.service.storage.folder(aid)
    for name in ("report.json", "report.html", "report.md"):  # killed after the log, before the pages
        (folder / name).write_text(json.dumps(report) if name == "report.json" else "stale")
    (folder / ".report.html.x1y2.tmp").write_text("half-written")
    with TestClient(create_app(truth, tmp_path / "data")) as client:  # the restart repairs
        assert client.get(f"/v1/analyses/{aid}").json()["report"] == reviewed["report"]
        assert "Basophil" in client.get(f"/v1/analyses/{aid}/cells.csv").text
    assert (folder / "report.html").read_text() != "stale" and not list(folder.glob(".*.tmp"))


def test_a_rebuild_without_change_is_the_original_report(client: TestClient, truth: TruthDetector) -> None:
    aid, report = _film(client, truth)
    folder = client.app.state.service.storage.folder(aid)
    html = (folder / "report.html").read_text()
    rebuilt = rebuild_report(folder, report, [], None)  # the report's own pipeline, from the stored cells
    assert rebuilt.pop("review")["reviewed_cells"] == []
    for cell in rebuilt["cells"]:
        assert cell.pop("reviewed") is False
    assert rebuilt == report
    assert (folder / "report.html").read_text() == html  # same thumbnails and crops, byte for byte


def test_export_of_reviewed_cells_reads_back_as_a_dataset(
    client: TestClient, truth: TruthDetector, tmp_path: Path
) -> None:
    aid, report = _film(client, truth)
    assert client.get(f"/v1/analyses/{aid}/export/coco").status_code == 409  # nothing reviewed yet
    field0 = [c for c in _wbcs(report) if c["field"] == 0]
    first, second = field0[0], field0[1]
    _review(
        client,
        aid,
        {"action": "reclassify", "cell": first["id"], "class": "Monoblast"},
        {
            "action": "attribute",
            "cell": first["id"],
            "attribute": "cytoplasmic_vacuoles",
            "value": "prominent",
        },
        {"action": "not_wbc", "cell": second["id"]},
    )
    response = client.get(f"/v1/analyses/{aid}/export/coco")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    out = tmp_path / "export"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(out)
    assert (out / "audit.jsonl").is_file()
    ds, diag = load_source(out)
    assert sum(diag.counts("train").values()) == 0
    assert [r.path.name for r in ds.records] == [f"{aid}_000.png"]  # only the field with reviewed cells
    record = ds.records[0]
    assert record.labeled_regions == (tuple(first["box"]), tuple(second["box"]))  # one region per cell
    assert [ds.classes[c.class_id] for c in record.cells] == ["Monoblast", "None"]
    vacuoles = ds.attributes["cytoplasmic_vacuoles"]
    assert vacuoles.values[record.cells[0].attributes["cytoplasmic_vacuoles"]] == "prominent"
    nucleoli = ds.attributes["nucleoli"]
    assert nucleoli.values[record.cells[0].attributes["nucleoli"]] == first["attributes"]["nucleoli"]["value"]
    assert set(record.cells[1].attributes.values()) == {None}  # None class: not applicable
    assert Image.open(record.path).size == (record.width, record.height)


def test_not_a_wbc_without_a_none_class(tmp_path: Path) -> None:
    truth = TruthDetector(SEEDS, size=320, with_none=False)
    with TestClient(create_app(truth, tmp_path / "data")) as client:
        aid, report = _film(client, truth)
        cell = report["cells"][0]
        after = _review(client, aid, {"action": "not_wbc", "cell": cell["id"]}).json()["report"]
        assert after["cells"][0]["class"] == "not a WBC" and after["differential"]["apart"] == [
            {"class": "not a WBC", "role": "artefact", "count": 1}
        ]
        assert after["differential"]["total"] == report["differential"]["total"] - 1
        refused = _review(client, aid, {"action": "reclassify", "cell": 1, "class": "None"})
        assert refused.status_code == 422
        out = tmp_path / "export"
        zipfile.ZipFile(io.BytesIO(client.get(f"/v1/analyses/{aid}/export/coco").content)).extractall(out)
        record = load_source(out)[0].records[0]
        assert record.cells == () and record.labeled_regions == (tuple(cell["box"]),)  # labelled background


def test_field_images_and_the_cells_table(
    client: TestClient, truth: TruthDetector, images: dict[str, bytes]
) -> None:
    files = upload(("a.png", truth.field_png(0)), ("=cmd.tif", images["TIFF"]))
    created = client.post("/v1/analyses", files=files).json()
    aid, report = created["id"], created["report"]
    links = client.get(f"/v1/analyses/{aid}").json()["links"]
    first = client.get(links["field_image"].format(n=0))
    assert first.headers["content-type"] == "image/png" and first.content == truth.field_png(0)
    tiff = client.get(links["field_image"].format(n=1))  # served as the PNG the detector read
    assert tiff.headers["content-type"] == "image/png" and Image.open(io.BytesIO(tiff.content)).size == (
        160,
        160,
    )
    assert client.get(links["field_image"].format(n=2)).status_code == 404
    assert client.get(links["report_json"]).json() == report
    table = client.get(links["cells_csv"])
    assert table.headers["content-type"].startswith("text/csv")
    rows = table.text.splitlines()
    assert rows[0].startswith("id,field,image,x1,y1,x2,y2,class,role,score,reviewed,model_class,cell_size,")
    assert len(rows) == 1 + len(report["cells"]) and rows[1].startswith("0,0,a.png,")
    assert report["fields"][1]["image"] == "_cmd.tif"  # names are cleaned; the CSV guards formulas anyway


def test_the_cells_table_guards_against_spreadsheet_formulas() -> None:
    cell = {"id": 0, "field": 0, "image": "=HYPERLINK(1)", "box": [1, 2, 3, 4], "class": "+x", "score": 0.5}
    doc = {
        "model": {"attributes": {"size": ["@a"]}},
        "cells": [{**cell, "attributes": {"size": {"value": "@a"}}}],
    }
    row = cells_csv(doc).splitlines()[1]
    assert row == "0,0,'=HYPERLINK(1),1,2,3,4,'+x,,0.5,0,'+x,'@a"  # class '+x' has no role
