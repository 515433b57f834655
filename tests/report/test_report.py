"""Report numbers on a fixed synthetic film, the template text, the empty film, and the three files."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from leukodet.records.prediction import Prediction
from leukodet.records.vocab import LLD_CLASSES
from leukodet.report.bank import BankCell, MorphologyBank, bank_from_predictions
from leukodet.report.differential import differential
from leukodet.report.document import DISCLAIMER, SCHEMA, build_report, model_info
from leukodet.report.morphology import majority_value, morphology
from leukodet.report.text import NO_WBC, film_text
from leukodet.report.writers import write_report

from .film import SCHEMA as ATTRS
from .film import film

KEYS = {
    "schema",
    "differential",
    "flags",
    "attributes",
    "text",
    "cells",
    "model",
    "fields",
    "threshold",
    "disclaimer",
}
WHEN = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
META = {
    "classes": list(LLD_CLASSES),
    "attributes": {k: list(v) for k, v in sorted(ATTRS.items())},
    "data": {"source": "/data/lld.yaml", "train_images": 1546, "train_boxes": 9600, "val_images": 185},
    "imgsz": 640,
    "recipe": "paper",
    "model_config": {"name": "yolo_x"},
    "leukodet": "0.1.0",
}
TEXT = (
    "20 WBCs in 2 fields. Predominant type: Myeloblast (50.0% of WBCs). Most WBCs show coarse chromatin, "
    "regular nuclear shape, prominent nucleoli, scanty cytoplasm, moderate cytoplasmic basophilia and "
    "cytoplasmic vacuoles absent."
)


def _doc(preds: list[Prediction], schema: dict | None = ATTRS) -> dict:
    bank = bank_from_predictions(preds, conf=0.25, schema=schema)
    return build_report(bank, model_info(META, "/runs/x/weights/best.pt"), created=WHEN)


def test_film_numbers(tmp_path: Path) -> None:
    doc = _doc(film(tmp_path))
    assert KEYS <= set(doc) and doc["schema"] == SCHEMA == "leukodet.report/2"
    diff = doc["differential"]
    rows = {r["class"]: r for r in diff["classes"]}
    assert "None" not in rows and sum(a["count"] for a in diff["apart"]) == 3 and diff["total"] == 20
    counts = {k: v["count"] for k, v in rows.items() if v["count"]}
    assert counts == {
        "Myeloblast": 10,
        "Lymphoblast": 2,
        "Neutrophil": 4,
        "Atypical lymphocyte": 2,
        "Lymphocyte": 1,
        "Abnormal promyelocyte": 1,
    }
    assert rows["Monoblast"]["count"] == 0  # both Monoblasts score below 0.25
    assert rows["Myeloblast"]["percent"] == 50.0 and rows["Neutrophil"]["percent"] == 20.0
    # Wilson by hand, 10/20: (10 + 1.9208 ± 1.96·sqrt(5 + 0.9604)) / 23.8415
    assert rows["Myeloblast"]["ci95"] == pytest.approx([29.9298, 70.0702], abs=1e-3)
    # 1/20: (1 + 1.9208 ± 1.96·sqrt(0.95 + 0.9604)) / 23.8415 = 0.8881 .. 23.6131
    assert rows["Lymphocyte"]["ci95"] == pytest.approx([0.8881, 23.6131], abs=1e-3)
    assert rows["Monoblast"]["percent"] == 0.0 and rows["Monoblast"]["ci95"][0] == 0.0
    assert rows["Monoblast"]["ci95"][1] == pytest.approx(16.1125, abs=1e-3)
    assert diff["summary"] == "counted 20 cells: 100 not met, 200 not met"
    assert [f["cells"] for f in doc["fields"]] == [12, 11] and [f["wbc"] for f in doc["fields"]] == [10, 10]
    assert len(doc["cells"]) == 23 and doc["threshold"] == 0.25


def test_film_flags_fire_with_their_numbers(tmp_path: Path) -> None:
    flags = {f["id"]: f for f in _doc(film(tmp_path))["flags"]["fired"]}
    assert list(flags) == ["blast_excess", "suspected_apl", "atypical_lymphocytes"]
    blast = flags["blast_excess"]
    assert (blast["count"], blast["total"], blast["percent"], blast["threshold"]) == (12, 20, 60.0, 20.0)
    assert blast["explanation"] == "blasts: 12 of 20 WBCs = 60.0% (95% CI 38.7%–78.1%) ≥ 20%"
    assert flags["suspected_apl"]["message"] == "urgent review: suspected APL"
    assert flags["suspected_apl"]["count"] == 1
    atyp = flags["atypical_lymphocytes"]
    assert (atyp["count"], atyp["percent"]) == (2, 10.0)  # exactly at the 10 % threshold: fires


def test_film_text_and_attributes(tmp_path: Path) -> None:
    doc = _doc(film(tmp_path))
    assert doc["text"] == TEXT
    overall = doc["attributes"]["overall"]
    assert list(overall) == list(ATTRS)  # LLD column order although the metadata is sorted
    assert overall["nuclear_shape"] == {
        "n": 20,
        "counts": {"regular": 10, "irregular": 10},
        "majority": "regular",
    }
    assert overall["nuclear_chromatin"]["counts"] == {"open": 8, "coarse": 12}
    assert overall["cytoplasmic_vacuoles"]["counts"] == {"absent": 20, "prominent": 0}  # None cells left out
    myelo = doc["attributes"]["by_class"]["Myeloblast"]
    assert myelo["n"] == 10 and myelo["attributes"]["nucleoli"]["majority"] == "prominent"
    assert myelo["summary"].startswith("Myeloblast (10 cells): coarse chromatin, regular nuclear shape")
    assert doc["attributes"]["by_class"]["Monoblast"] == {
        "n": 0,
        "attributes": {
            k: {"n": 0, "counts": {v: 0 for v in vals}, "majority": None} for k, vals in ATTRS.items()
        },
        "summary": "Monoblast (0 cells).",
    }


def test_text_without_attributes_and_with_a_subset(tmp_path: Path) -> None:
    preds = film(tmp_path, attributes=False)
    assert _doc(preds)["text"] == "20 WBCs in 2 fields. Predominant type: Myeloblast (50.0% of WBCs)."
    partial = [
        replace(
            p,
            attributes=[
                {k: v for k, v in a.items() if k in ("nucleoli", "granularity")} for a in p.attributes or []
            ],
        )
        for p in film(tmp_path)
    ]
    assert _doc(partial, schema=None)["text"].endswith("Most WBCs show prominent nucleoli.")


def test_majority_tie_goes_to_value_zero() -> None:
    assert majority_value({"coarse": 3, "open": 3}, ("open", "coarse")) == "open"
    assert majority_value({"b": 2, "a": 2}, ()) == "b"  # outside the schema: first seen
    assert majority_value({"open": 0, "coarse": 0}, ("open", "coarse")) is None


def test_generic_attribute_words(tmp_path: Path) -> None:
    preds = film(tmp_path)
    renamed = [
        replace(
            p,
            attributes=[
                {"granule_type": a["nucleoli"]} if "nucleoli" in a else {} for a in p.attributes or []
            ],
        )
        for p in preds
    ]
    doc = _doc(renamed, schema={"granule_type": ["inconspicuous", "prominent"]})
    assert doc["text"].endswith("Most WBCs show granule type prominent.")


def test_empty_film_has_every_section(tmp_path: Path) -> None:
    preds = film(tmp_path)
    doc = build_report(
        bank_from_predictions(preds, conf=0.99, schema=ATTRS), model_info(META, "best.pt"), created=WHEN
    )
    assert KEYS <= set(doc) and doc["text"] == NO_WBC == "no WBC found"
    diff = doc["differential"]
    assert diff["total"] == 0 and sum(a["count"] for a in diff["apart"]) == 0 and len(diff["classes"]) == 13
    assert all(r["count"] == 0 and r["percent"] is None and r["ci95"] is None for r in diff["classes"])
    assert diff["summary"] == "counted 0 cells: 100 not met, 200 not met"
    assert doc["flags"]["fired"] == [] and doc["cells"] == [] and len(doc["fields"]) == 2
    assert all(t["majority"] is None and t["n"] == 0 for t in doc["attributes"]["overall"].values())
    paths = write_report(doc, bank_from_predictions(preds, conf=0.99), tmp_path / "out")
    html = paths["html"].read_text()
    assert 'id="differential"' in html and "no WBC found" in html and "No cell above the threshold" in html
    assert "no WBC found" in paths["markdown"].read_text()


def test_only_none_cells_is_no_wbc(tmp_path: Path) -> None:
    preds = [p.filter(0.25) for p in film(tmp_path)]
    only_none = [
        Prediction(p.boxes[m], p.scores[m], p.class_ids[m], p.class_names, p.image, p.width, p.height)
        for p in preds
        for m in [p.class_ids == 0]
    ]
    doc = _doc(only_none)
    assert (
        doc["text"] == NO_WBC
        and sum(a["count"] for a in doc["differential"]["apart"]) == 3
        and doc["differential"]["total"] == 0
    )


def test_files_name_the_model_and_say_decision_support(tmp_path: Path) -> None:
    preds = film(tmp_path)
    bank = bank_from_predictions(preds, conf=0.25, schema=ATTRS)
    doc = build_report(bank, model_info(META, "/runs/x/weights/best.pt"), created=WHEN)
    paths = write_report(doc, bank, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json", "report.md"]
    saved = json.loads(paths["json"].read_text())
    assert saved == json.loads(json.dumps(doc)) and saved["model"]["weights"] == "best.pt"
    assert (
        saved["model"]["training_data"]["train_images"] == 1546
        and saved["created"] == "2025-01-02T03:04:05+00:00"
    )
    for page in (paths["html"].read_text(), paths["markdown"].read_text()):
        assert "best.pt" in page and "/data/lld.yaml" in page and "1546 images" in page
        assert "not a diagnosis" in page and TEXT in page
    html = paths["html"].read_text()
    assert "http://" not in html and "https://" not in html and "<link" not in html
    assert html.count("data:image/jpeg;base64,") == 2 + 23  # two field thumbnails, 23 cell crops
    assert DISCLAIMER in saved["disclaimer"]


def test_unreadable_images_give_placeholders(tmp_path: Path) -> None:
    preds = film(tmp_path)
    for p in preds:
        Path(p.image).unlink()
    bank = bank_from_predictions(preds, conf=0.25, schema=ATTRS)
    assert all(c.crop == b"" for c in bank.cells) and bank.fields[0].width == 240
    paths = write_report(build_report(bank, model_info(None, None, bank.classes)), bank, tmp_path / "out")
    html = paths["html"].read_text()
    assert "image not readable" in html and "data:image/jpeg" not in html
    assert "Weights</dt><dd>unknown" in html


def test_bad_threshold_and_mismatched_fields(tmp_path: Path) -> None:
    preds = film(tmp_path)
    with pytest.raises(ValueError, match=r"confidence threshold must be in \[0, 1\], got 1.5"):
        bank_from_predictions(preds, conf=1.5)
    with pytest.raises(ValueError, match="1 fields for 2 predictions"):
        bank_from_predictions(preds, fields=["a.png"])


def test_predominant_tie_goes_to_the_first_class_of_the_model() -> None:
    names = ["Neutrophil", "Neutrophil", "Myeloblast", "Myeloblast", "None", "None", "None"]
    cells = tuple(BankCell(0, (0.0, 0.0, 1.0, 1.0), n, 0.9, {}) for n in names)
    bank = MorphologyBank((), cells, LLD_CLASSES, {}, 0.25)
    text = film_text(differential(bank), morphology(bank), 1)
    assert text == "4 WBCs in 1 field. Predominant type: Myeloblast (50.0% of WBCs)."
