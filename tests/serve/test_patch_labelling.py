"""Patch labelling through the API: the proposed patch, moving and drawing it, adding, resizing, confirming,
reclassifying and rejecting boxes, undo, completion, refusals, the audit rows and the COCO export.

The detector is :class:`TruthDetector` (the synthetic fields' own labels), so every field has known cells.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from leukodet.active.propose import propose_region
from leukodet.active.scores import FieldEvidence
from leukodet.records import load_source
from leukodet.records.prediction import Prediction
from leukodet.records.vocab import LLD_CLASSES
from leukodet.serve import create_app
from leukodet.serve.export import union_area
from leukodet.serve.review import repair_reviews

from .conftest import TestClient, upload
from .truth import TruthDetector

SEEDS = (5, 6)
R = "Dr Label"


@pytest.fixture(scope="module")
def truth() -> TruthDetector:
    return TruthDetector(SEEDS, size=640)


@pytest.fixture
def client(truth: TruthDetector, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(truth, tmp_path / "data", weights_name="lab.pt")) as c:
        yield c


@pytest.fixture
def aid(client: TestClient, truth: TruthDetector) -> str:
    files = upload(*((f"field{i}.png", truth.field_png(i)) for i in range(len(SEEDS))))
    response = client.post("/v1/analyses", files=files)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _url(aid: str, field: int, tail: str = "patch") -> str:
    return f"/v1/analyses/{aid}/fields/{field}/{tail}"


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def _refused(response: Any, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["detail"] == message


def _log(client: TestClient, aid: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/analyses/{aid}/audit").json()["entries"]  # type: ignore[no-any-return]


def _box(state: dict[str, Any], box_id: int) -> dict[str, Any]:
    return next(b for b in state["boxes"] if b["id"] == box_id)


def _inside(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in state["boxes"] if b["in_patch"] and b["source"] == "model"]


def test_a_field_opens_with_the_proposed_patch(client: TestClient, aid: str) -> None:
    report = client.get(f"/v1/analyses/{aid}").json()["report"]
    state = _ok(client.get(_url(aid, 0)))
    cells = [c for c in report["cells"] if c["field"] == 0]
    pred = Prediction(
        np.array([c["box"] for c in cells]),
        np.array([c["score"] for c in cells]),
        np.zeros(len(cells)),
        ("x",),
    )
    expected = propose_region("unsure", FieldEvidence(pred), 640, 640, 0.2, seed=0, key="field0")
    assert state["patch"] == {"region": list(expected.region), "origin": "proposed", "complete": False}
    assert state["proposal"]["score"] == "unsure" and state["proposal"]["fraction"] == 0.2
    x1, y1, x2, y2 = state["patch"]["region"]
    assert abs((x2 - x1) * (y2 - y1) / 640**2 - 0.2) < 0.01 and 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 640
    assert [b["id"] for b in state["boxes"]] == [c["id"] for c in cells]
    assert state["can_undo"] is False and _log(client, aid) == []  # opening logs nothing


def test_moving_and_drawing_the_patch_is_logged(client: TestClient, aid: str) -> None:
    before = _ok(client.get(_url(aid, 0)))["patch"]["region"]
    moved = [before[0] - 10, before[1] - 10, before[2] - 10, before[3] - 10]
    state = _ok(client.put(_url(aid, 0), json={"reviewer": R, "region": moved}))
    assert state["patch"]["region"] == moved and state["patch"]["origin"] == "moved"
    _ok(client.put(_url(aid, 0), json={"reviewer": R, "region": moved}))  # the same place: nothing logged
    drawn = _ok(
        client.put(_url(aid, 0), json={"reviewer": R, "region": [0.4, 10, 100.2, 300], "how": "draw"})
    )
    assert drawn["patch"] == {"region": [0.0, 10.0, 100.0, 300.0], "origin": "drawn", "complete": False}
    log = _log(client, aid)
    assert [(e["action"], e["reviewer"], e["cell"], e["field"]) for e in log] == [
        ("patch_move", R, -1, "patch.0"),
        ("patch_draw", R, -1, "patch.0"),
    ]
    assert log[0]["before"] == before and log[0]["after"] == moved and log[1]["before"] == moved
    assert log[0]["time"] < log[1]["time"]


def test_add_and_resize_boxes(client: TestClient, aid: str) -> None:
    report = client.get(f"/v1/analyses/{aid}").json()["report"]
    state = _ok(client.get(_url(aid, 1)))
    x1, y1 = state["patch"]["region"][:2]
    new = [x1 + 5, y1 + 5, x1 + 35.5, y1 + 40]
    added = _ok(
        client.post(_url(aid, 1, "boxes"), json={"reviewer": R, "box": new, "class": "Basophil"}), 201
    )
    box = _box(added, len(report["cells"]))  # ids go on after the model's cells
    assert box == {**box, "box": new, "class": "Basophil", "source": "added", "in_patch": True}
    target = _inside(added)[0]
    bigger = [target["box"][0] - 2, target["box"][1], target["box"][2] + 3, target["box"][3]]
    resized = _ok(
        client.post(
            _url(aid, 1, f"boxes/{target['id']}"), json={"reviewer": R, "action": "resize", "box": bigger}
        )
    )
    assert _box(resized, target["id"])["box"] == bigger and _box(resized, target["id"])["resized"]
    assert _box(resized, target["id"])["model_box"] == target["box"]
    moved_added = [v + 1 for v in new]
    resized = _ok(
        client.post(
            _url(aid, 1, f"boxes/{box['id']}"), json={"reviewer": R, "action": "resize", "box": moved_added}
        )
    )
    assert _box(resized, box["id"])["box"] == moved_added
    log = _log(client, aid)
    assert [(e["action"], e["cell"]) for e in log] == [
        ("box_add", box["id"]),
        ("resize", target["id"]),
        ("resize", box["id"]),
    ]
    assert (
        log[0]["after"] == {"field": 1, "box": new, "class": "Basophil"} and log[1]["before"] == target["box"]
    )
    assert (
        client.get(f"/v1/analyses/{aid}").json()["report"] == report
    )  # labelling rows leave the report alone


def test_box_actions_on_model_cells_are_review_rows_and_undo_takes_them_back(
    client: TestClient, aid: str
) -> None:
    state = _ok(client.get(_url(aid, 0)))
    first, second = _inside(state)[:2]
    rejected = _ok(
        client.post(_url(aid, 0, f"boxes/{first['id']}"), json={"reviewer": R, "action": "reject"})
    )
    assert _box(rejected, first["id"])["rejected"] and _box(rejected, first["id"])["class"] == "None"
    report = client.get(f"/v1/analyses/{aid}").json()["report"]
    assert report["cells"][first["id"]]["class"] == "None" and report["review"]["reviewed_cells"] == [
        first["id"]
    ]
    body = {"reviewer": R, "action": "reclassify", "class": "Eosinophil"}
    _ok(client.post(_url(aid, 0, f"boxes/{second['id']}"), json=body))
    undone = _ok(client.post(_url(aid, 0, "undo"), json={"reviewer": "Dr Other"}))
    assert _box(undone, second["id"])["class"] == second["class"] and _box(undone, first["id"])["rejected"]
    undone = _ok(client.post(_url(aid, 0, "undo"), json={"reviewer": R}))
    assert not _box(undone, first["id"])["rejected"] and _box(undone, first["id"])["class"] == first["class"]
    assert not undone["can_undo"]
    report = client.get(f"/v1/analyses/{aid}").json()["report"]
    assert (
        report["cells"][first["id"]]["class"] == first["class"] and report["review"]["reviewed_cells"] == []
    )
    log = _log(client, aid)
    assert [(e["action"], e["reviewer"], e["before"], e["after"]) for e in log[2:]] == [
        ("undo", "Dr Other", "reclassify", [1]),
        ("undo", R, "not_wbc", [0]),
    ]
    assert log[0]["action"] == "not_wbc" and log[1]["action"] == "reclassify"  # the review's own rows
    _refused(client.post(_url(aid, 0, "undo"), json={"reviewer": R}), 409, "nothing to undo on field 0")


def test_completing_confirms_the_untouched_boxes_locks_the_patch_and_undo_reopens_it(
    client: TestClient, aid: str
) -> None:
    state = _ok(client.get(_url(aid, 0)))
    inside = _inside(state)
    _ok(client.post(_url(aid, 0, f"boxes/{inside[0]['id']}"), json={"reviewer": R, "action": "confirm"}))
    done = _ok(client.post(_url(aid, 0, "patch/complete"), json={"reviewer": R}))
    assert done["patch"]["complete"] and done["completed"]["reviewer"] == R
    log = _log(client, aid)
    assert [(e["action"], e["cell"]) for e in log[1:]] == [("confirm", b["id"]) for b in inside[1:]] + [
        ("patch_complete", -1)
    ]
    assert len({e["time"] for e in log[1:]}) == 1  # one request, one time
    assert log[-1]["after"] == {"status": "complete", "region": state["patch"]["region"]}
    locked = "the patch of field 0 is complete; undo the completion to change it"
    _refused(client.put(_url(aid, 0), json={"reviewer": R, "region": [0, 0, 10, 10]}), 409, locked)
    box = {"reviewer": R, "box": [1, 1, 9, 9], "class": "Basophil"}
    _refused(client.post(_url(aid, 0, "boxes"), json=box), 409, locked)
    again = client.post(_url(aid, 0, "patch/complete"), json={"reviewer": R})
    _refused(again, 409, "the patch of field 0 is already complete")
    reopened = _ok(client.post(_url(aid, 0, "undo"), json={"reviewer": R}))
    assert not reopened["patch"]["complete"] and reopened["patch"]["region"] == state["patch"]["region"]
    report = client.get(f"/v1/analyses/{aid}").json()["report"]
    assert report["review"]["reviewed_cells"] == [inside[0]["id"]]  # the completion's confirmations undone


@pytest.mark.parametrize(
    ("tail", "body", "status", "message"),
    [
        ("boxes", {"box": [600, 10, 700, 50], "class": "Basophil"}, 422,
         "box [600, 10, 700, 50] is not inside the 640x640 image (0 <= x1 < x2 <= 640, 0 <= y1 < y2 <= 640)"),
        ("boxes", {"box": [10, 10, 10, 50], "class": "Basophil"}, 422,
         "box [10, 10, 10, 50] has no area: it needs x1 < x2 and y1 < y2"),
        ("boxes", {"box": [10, 10, 20, 20], "class": "Blast"}, 422,
         f"new box: unknown class 'Blast' (the model's classes: {', '.join(LLD_CLASSES)})"),
        ("boxes", {"box": [10, 10, 20], "class": "Basophil"}, 422,
         "box: List should have at least 4 items after validation, not 3"),
        ("boxes/0", {"action": "resize"}, 422, "box 0: resize needs 'box' [x1, y1, x2, y2]"),
        ("boxes/0", {"action": "reclassify"}, 422, "box 0: reclassify needs 'class'"),
        ("boxes/0", {"action": "resize", "box": [-1, 0, 5, 5]}, 422,
         "box [-1, 0, 5, 5] is not inside the 640x640 image (0 <= x1 < x2 <= 640, 0 <= y1 < y2 <= 640)"),
        ("boxes/0", {"action": "melt"}, 422,
         "action: Input should be 'confirm', 'reclassify', 'reject' or 'resize'"),
        ("boxes/999", {"action": "confirm"}, 404, None),
        ("patch", {"region": [0, 0, 641, 100]}, 422,
         "patch [0, 0, 641, 100] is not inside the 640x640 image (0 <= x1 < x2 <= 640, 0 <= y1 < y2 <= 640)"),
        ("patch", {"region": [50, 50, 40, 100], "how": "draw"}, 422,
         "patch [50, 50, 40, 100] has no area: it needs x1 < x2 and y1 < y2"),
        ("patch", {"region": [0, 0, 10, 10], "extra": 1}, 422, "extra: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_actions_are_refused_with_one_message_and_log_nothing(
    client: TestClient, aid: str, tail: str, body: dict[str, Any], status: int, message: str | None
) -> None:
    method = client.put if tail == "patch" else client.post
    response = method(_url(aid, 0, tail), json={"reviewer": R, **body})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail == message if message else detail.startswith("no box 999 in field 0 (its boxes: ")
    assert _log(client, aid) == []


def test_unknown_fields_and_reviewers(client: TestClient, aid: str) -> None:
    _refused(client.get(_url(aid, 7)), 404, "no field 7 in this analysis (fields are 0-1)")
    _refused(
        client.post(_url(aid, 7, "undo"), json={"reviewer": R}),
        404,
        "no field 7 in this analysis (fields are 0-1)",
    )
    _refused(client.get(_url("nosuchanalysis0", 0)), 404, "no such analysis")
    blank = client.post(_url(aid, 0, "undo"), json={"reviewer": "  "})
    assert blank.status_code == 422 and blank.json()["detail"].startswith("reviewer: ")


def _act(
    client: TestClient, aid: str, field: int, tail: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    """POST ``body`` (with the reviewer) to the field's ``tail``; the new state."""
    return _ok(client.post(_url(aid, field, tail), json={"reviewer": R, **body}), status)


def test_the_export_carries_complete_patches_with_exactly_the_kept_boxes(
    client: TestClient, aid: str, tmp_path: Path
) -> None:
    nothing = "nothing to export: review or confirm cells, or complete a field's patch, first"
    _refused(client.get(f"/v1/analyses/{aid}/export/coco"), 409, nothing)
    state = _ok(client.get(_url(aid, 0)))
    region = [v + 4 for v in state["patch"]["region"]]
    state = _ok(client.put(_url(aid, 0), json={"reviewer": R, "region": region}))
    assert len(_inside(state)) >= 2
    keep, reject = _inside(state)[:2]
    missed = [region[0] + 3, region[1] + 3, region[0] + 33, region[1] + 30]
    _act(client, aid, 0, "boxes", 201, box=missed, **{"class": "Lymphocyte"})
    far = [1, 1, 12, 12] if region[0] > 6.5 or region[1] > 6.5 else [620, 620, 630, 630]
    _act(client, aid, 0, "boxes", 201, box=far, **{"class": "Basophil"})  # centre outside the patch
    _act(client, aid, 0, f"boxes/{reject['id']}", action="reject")
    _act(client, aid, 0, f"boxes/{keep['id']}", action="reclassify", **{"class": "Monocyte"})
    grown = [keep["box"][0] - 1, keep["box"][1] - 1, keep["box"][2] + 1, keep["box"][3] + 1]
    _act(client, aid, 0, f"boxes/{keep['id']}", action="resize", box=grown)
    _act(client, aid, 0, "patch/complete")
    _act(client, aid, 1, "boxes", 201, box=[5, 5, 30, 30], **{"class": "Basophil"})  # field 1 stays open
    final = _ok(client.get(_url(aid, 0)))
    expected = Counter(
        (tuple(b["box"]), b["class"]) for b in final["boxes"] if b["in_patch"] and not b["rejected"]
    )
    assert (tuple(missed), "Lymphocyte") in expected and (tuple(grown), "Monocyte") in expected
    assert all(k[1] != "None" for k in expected) and (tuple(far), "Basophil") not in expected

    response = client.get(f"/v1/analyses/{aid}/export/coco")
    assert response.status_code == 200
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path / "export")
    ds, _ = load_source(tmp_path / "export")
    assert [r.path.name for r in ds.records] == [
        f"{aid}_000.png"
    ]  # field 1's patch is not complete: no region
    record = ds.records[0]
    assert record.labeled_regions == (tuple(region),)
    assert Counter((tuple(c.box), ds.classes[c.class_id]) for c in record.cells) == expected
    added = next(c for c in record.cells if tuple(c.box) == tuple(missed))
    assert set(added.attributes.values()) == {None}  # a drawn box carries no attribute values

    summary = _ok(client.get(f"/v1/analyses/{aid}/export/summary"))
    assert summary == {
        "fields": 2,
        "fields_complete": 1,
        "images": 1,
        "regions": 1,
        "boxes": sum(expected.values()),
        "boxes_per_class": dict(Counter(k[1] for k in expected.elements())),
        "labelled_area_share": round((region[2] - region[0]) * (region[3] - region[1]) / 640**2, 4),
        "command": f"leukodet train --model lab.pt --data leukodet-{aid}-coco/data.yaml --out runs/retrain",
    }


def test_an_empty_export_summary_and_the_union_area() -> None:
    assert union_area([]) == 0.0
    assert union_area([[0, 0, 10, 10], [5, 5, 15, 15]]) == 175.0
    assert union_area([[0, 0, 10, 10], [2, 2, 4, 4]]) == 100.0


def test_labelling_rows_survive_a_restart_without_a_repair(truth: TruthDetector, tmp_path: Path) -> None:
    with TestClient(create_app(truth, tmp_path / "data")) as client:
        files = upload(("field0.png", truth.field_png(0)))
        aid = _ok(client.post("/v1/analyses", files=files), 201)["id"]
        state = _ok(client.get(_url(aid, 0)))
        _ok(
            client.post(
                _url(aid, 0, "boxes"), json={"reviewer": R, "box": [1, 1, 20, 20], "class": "Basophil"}
            ),
            201,
        )
        _ok(
            client.post(
                _url(aid, 0, f"boxes/{state['boxes'][0]['id']}"), json={"reviewer": R, "action": "reject"}
            )
        )
        _ok(client.post(_url(aid, 0, "undo"), json={"reviewer": R}))
        report = client.get(f"/v1/analyses/{aid}").json()["report"]
        folder = client.app.state.service.storage.folder(aid)
    assert report["review"]["changes"] == 2  # the reject and its undo; the added box is no report row
    assert repair_reviews([folder], None) == 0  # the report holds every row that concerns it
    with TestClient(create_app(truth, tmp_path / "data")) as client:
        assert client.get(f"/v1/analyses/{aid}").json()["report"] == report
        again = _ok(client.get(_url(aid, 0)))
        assert len(again["boxes"]) == len(state["boxes"]) + 1 and not again["boxes"][0]["rejected"]


def test_reviewed_cells_outside_a_complete_patch_keep_their_own_regions(client: TestClient, aid: str) -> None:
    state = _ok(client.get(_url(aid, 0)))
    outside = next(b for b in state["boxes"] if not b["in_patch"])
    review = {"reviewer": R, "changes": [{"action": "confirm", "cell": outside["id"]}]}
    _ok(client.post(f"/v1/analyses/{aid}/review", json=review))
    _act(client, aid, 0, "patch/complete")
    summary = _ok(client.get(f"/v1/analyses/{aid}/export/summary"))
    assert summary["regions"] == 2 and summary["boxes"] == len(_inside(state)) + 1
