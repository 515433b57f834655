"""The real public datasets in ../shared read with the documented counts."""

from __future__ import annotations

import json
import subprocess
import sys

from leukodet import api
from leukodet.records import load_source

from ..conftest import shared_data


def test_bccd_counts_and_splits() -> None:
    result = api.stats(shared_data("bccd", "BCCD"))
    splits = result["splits"]
    assert [splits[s]["images"] for s in ("train", "val", "test")] == [205, 87, 72]
    totals = {c: sum(s["boxes"][c] for s in splits.values()) for c in result["classes"]}
    assert totals == {"WBC": 372, "RBC": 4155, "Platelets": 361}
    # The two zero-size RBC boxes (00338, 00343) are counted and listed as invalid.
    assert sum(s["invalid"].get("zero_size", 0) for s in splits.values()) == 2


def test_bcdd_counts() -> None:
    ds, diag = load_source(shared_data("bcdd"))
    assert len(ds.records) == 100
    assert sum(1 for r in ds.records for c in r.cells if ds.classes[c.class_id] == "WBC") == 103
    assert diag.problems == []


def test_wbcatt_train_crops_and_attributes() -> None:
    ds, diag = load_source(shared_data("wbcatt"))
    train = ds.split("train")
    assert len(train) == 1601
    assert len(ds.attributes) == 11
    assert "light blue" in ds.attributes["cytoplasm_colour"].values
    assert "nil" in ds.attributes["granule_type"].values  # an ordinary value, not "not applicable"
    assert all(len(r.cells) == 1 for r in train)
    assert all(v is not None for r in train for v in r.cells[0].attributes.values())
    assert diag.problems == []


def test_stats_json_cli_with_progress_on() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leukodet.cli",
            "stats",
            str(shared_data("bccd", "BCCD")),
            "--json",
            "--progress",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(proc.stdout)
    assert set(doc) == {"splits", "classes", "attributes"}
    assert doc["splits"]["train"]["invalid"] == {"zero_size": 1}
    assert "zero or negative size" in proc.stderr
