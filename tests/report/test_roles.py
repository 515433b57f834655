"""Class roles in the film report: WBCs are counted as WBCs, red cells and platelets as what they are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from leukodet import api
from leukodet.cli import main
from leukodet.infer.fields import predict_fields
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import load_checkpoint, save_checkpoint
from leukodet.records.prediction import Prediction
from leukodet.records.roles import RolesError, class_roles
from leukodet.records.vocab import LLD_CLASSES
from leukodet.report.bank import bank_from_fields, bank_from_predictions
from leukodet.report.document import build_report, model_info
from leukodet.report.html_page import render_html
from leukodet.report.markdown_page import render_markdown

BCCD = ("Platelets", "RBC", "WBC")


def _prediction(names: tuple[str, ...], calls: list[str], image: str = "f.png") -> Prediction:
    boxes = np.array([[4.0 * i, 4.0 * i, 4.0 * i + 20, 4.0 * i + 20] for i in range(len(calls))]).reshape(
        -1, 4
    )
    ids = np.array([names.index(c) for c in calls], np.int64)
    return Prediction(boxes, np.full(len(calls), 0.9), ids, names, image, 640, 480)


def _report(names: tuple[str, ...], per_field: list[list[str]]) -> dict:
    preds = [_prediction(names, calls, f"field{i}.png") for i, calls in enumerate(per_field)]
    bank = bank_from_predictions(preds, conf=0.25, crops=False)
    return build_report(bank, model_info({"classes": list(names)}, None))


def test_constructed_film_counts_only_wbcs_in_the_differential() -> None:
    # 3 fields: 50 RBC, 3 platelets and 4 WBCs in all
    fields = [
        ["RBC"] * 20 + ["Platelets"] * 1 + ["WBC"] * 2,
        ["RBC"] * 16 + ["Platelets"] * 2 + ["WBC"] * 1,
        ["RBC"] * 14 + ["WBC"] * 1,
    ]
    doc = _report(BCCD, fields)
    diff = doc["differential"]
    assert diff["total"] == 4 and diff["untyped"] == 4 and diff["typed"] == 0
    assert [r["class"] for r in diff["classes"]] == ["WBC"] and diff["classes"][0]["label"] == "WBC, untyped"
    assert diff["summary"] == "counted 4 cells: 100 not met, 200 not met"
    assert doc["model"]["roles"] == ["platelet", "rbc", "wbc"]
    smear = doc["smear"]
    assert smear["rbc"]["per_field"] == [20, 16, 14] and smear["rbc"]["total"] == 50
    assert smear["platelets"]["per_field"] == [1, 2, 0] and smear["platelets"]["mean_per_field"] == 1.0
    assert smear["platelets"]["estimate_per_ul"] == 20_000 and "estimate" in smear["platelets"]["note"]
    assert [(f["wbc"], f["rbc"], f["platelets"], f["cells"]) for f in doc["fields"]] == [
        (2, 20, 1, 23),
        (1, 16, 2, 19),
        (1, 14, 0, 15),
    ]
    assert doc["text"] == (
        "4 WBCs in 3 fields, all untyped: the model finds WBCs but does not name their type. "
        "Counted apart from the WBCs: 50 RBCs (16.7 per field) and 3 platelets (1.0 per field; "
        "platelet estimate 20,000/µL)."
    )
    assert "Predominant type" not in doc["text"] and "RBC (" not in doc["text"]
    roles = {c["class"]: c["role"] for c in doc["cells"]}
    assert roles == {"RBC": "rbc", "Platelets": "platelet", "WBC": "wbc"}
    # the blast rules need LLD types: not evaluated, naming them
    assert doc["flags"]["evaluated"] == [] and any("Myeloblast" in w for w in doc["flags"]["warnings"])
    md = render_markdown(doc)
    assert "| WBC, untyped | 4 |" in md and "23 cells: 2 WBCs, 20 RBCs, 1 platelet" in md
    assert "estimated 20,000/µL" in md and "| RBC |" not in md


def test_lld_model_keeps_the_paper_template_and_counts_none_apart() -> None:
    names = tuple(LLD_CLASSES)
    doc = _report(names, [["Myeloblast"] * 3 + ["Neutrophil"] + ["None"] * 2])
    diff = doc["differential"]
    assert diff["total"] == 4 and diff["untyped"] == 0
    assert diff["apart"] == [{"class": "None", "role": "artefact", "count": 2}]
    assert doc["text"] == "4 WBCs in 1 field. Predominant type: Myeloblast (75.0% of WBCs)."
    assert doc["smear"]["rbc"]["evaluated"] is False and doc["smear"]["platelets"]["estimate_per_ul"] is None
    blast = {f["id"]: f for f in doc["flags"]["fired"]}["blast_excess"]
    assert (blast["count"], blast["total"]) == (3, 4)  # None cells are not in the denominator
    assert doc["fields"][0]["apart"] == 2


def test_generic_wbc_beside_types_is_untyped_and_not_predominant() -> None:
    names = (*LLD_CLASSES, "RBC", "Platelet", "WBC")
    doc = _report(names, [["WBC"] * 5 + ["Lymphocyte"] * 3 + ["Neutrophil"] * 2 + ["RBC"] * 40])
    diff = doc["differential"]
    assert diff["total"] == 10 and diff["untyped"] == 5 and diff["typed"] == 5
    assert doc["text"].startswith(
        "10 WBCs in 1 field, 5 of them untyped. Predominant type: Lymphocyte (30.0% of WBCs)."
    )
    assert "40 RBCs (40.0 per field)" in doc["text"]
    assert doc["smear"]["platelets"] == {
        "classes": ["Platelet"],
        "evaluated": True,
        "total": 0,
        "per_field": [0],
        "mean_per_field": 0.0,
        "estimate_per_ul": 0,
        "note": doc["smear"]["platelets"]["note"],
    }


def test_a_class_without_a_role_is_a_clear_error() -> None:
    with pytest.raises(RolesError, match=r"'Blast cell' has no role.*--role"):
        class_roles(["Blast cell", "RBC"])
    assert class_roles(["Blast cell", "RBC"], {"Blast cell": "wbc"}) == ("wbc", "rbc")
    with pytest.raises(RolesError, match="role 'cell' of 'RBC' is not one of wbc"):
        class_roles(["RBC"], ["cell"])
    pred = _prediction(("Blast cell", "RBC"), ["Blast cell", "RBC"])
    with pytest.raises(RolesError):
        bank_from_predictions([pred], conf=0.25, crops=False)
    bank = bank_from_predictions([pred], conf=0.25, crops=False, roles={"Blast cell": "wbc"})
    assert bank.wbc_classes == ("Blast cell",) and bank.classes_of("rbc") == ("RBC",)


def test_html_page_never_calls_a_red_cell_a_wbc() -> None:
    names = BCCD
    preds = [_prediction(names, ["RBC"] * 9 + ["WBC"] + ["Platelets"])]
    bank = bank_from_predictions(preds, conf=0.25, crops=False)
    doc = build_report(bank, model_info({"classes": list(names)}, None))
    page = render_html(doc, bank)
    assert "WBC, untyped" in page and "11 cells: 1 WBC, 9 RBCs, 1 platelet" in page
    assert "RBC (rbc, not a WBC): 9" in page and "Platelets (platelet), RBC (rbc), WBC (wbc)" in page
    assert 'data-class="RBC"><td>' not in page  # no differential row for red cells


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A checkpoint trained on a dataset YAML that declares ``None`` as ``other`` (not its default)."""
    root = tmp_path_factory.mktemp("roles")
    data = api.synth(root / "data", images=4, seed=5, size=128)
    doc = yaml.safe_load(data.read_text())
    doc["roles"] = {"None": "other"}
    data.write_text(yaml.safe_dump(doc, sort_keys=False))
    api.train(data, model="test_tiny", epochs=1, imgsz=128, batch=4, out=root / "run", progress=False,
              overrides=["augment.mosaic=0"])  # fmt: skip
    return root / "run" / "weights" / "last.pt", data.parent / "images"


def test_roles_survive_checkpoint_and_onnx_export(declared: tuple[Path, Path]) -> None:
    weights, _ = declared
    want = ["other", *["wbc"] * 13]
    assert load_checkpoint(weights)["metadata"]["class_roles"] == want
    det = Detector.load(weights)
    assert det.metadata["class_roles"] == want
    pytest.importorskip("onnxruntime")
    from leukodet.infer.onnx_backend import OnnxDetector

    onnx_det = OnnxDetector.load(api.export(weights, weights.parent / "export"))
    assert onnx_det.metadata["class_roles"] == want
    image = weights.parent / "field.png"
    Image.fromarray(np.full((128, 128, 3), 200, np.uint8)).save(image)
    fields = predict_fields(onnx_det, [image])
    bank = bank_from_fields(fields, 0.5, metadata=onnx_det.metadata, crops=False)
    assert bank.roles == tuple(want) and "None" not in bank.wbc_classes


def test_cli_report_role_option(declared: tuple[Path, Path], tmp_path: Path) -> None:
    weights, images = declared
    ckpt = load_checkpoint(weights)
    meta = ckpt["metadata"]
    meta["classes"][1], meta["class_roles"][1] = "Blast cell", None
    odd = save_checkpoint(tmp_path / "odd.pt", ckpt["model"], meta)
    args = ["report", "--weights", str(odd), str(images), "--out", str(tmp_path / "r")]
    failed = CliRunner().invoke(main, args)
    assert failed.exit_code != 0 and "'Blast cell' has no role" in failed.output
    assert "Traceback" not in failed.output and len(failed.output.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "report.json").exists()
    done = CliRunner().invoke(main, [*args, "--role", "Blast cell=wbc", "--conf", "0.001"])
    assert done.exit_code == 0, done.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["model"]["roles"][:2] == ["other", "wbc"]
    bad = CliRunner().invoke(main, [*args, "--role", "Blast cell"])
    assert bad.exit_code != 0 and "NAME=ROLE" in bad.output
