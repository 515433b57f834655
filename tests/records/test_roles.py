"""Class roles declared in a dataset YAML: parsed, checked with file and line, kept when the dataset is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from leukodet.records import DataError, load_source
from leukodet.records.io import write_dataset
from leukodet.records.roles import class_roles, default_role, is_untyped_wbc

from ..conftest import write_image


def _yaml(tmp_path: Path, roles: str) -> Path:
    write_image(tmp_path / "images" / "a.png", 64, 64)
    (tmp_path / "labels").mkdir(exist_ok=True)
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    path = tmp_path / "data.yaml"
    path.write_text(f"names: [Blast cell, Platelets, RBC]\n{roles}train: images\n")
    return path


def test_known_vocabularies_have_default_roles() -> None:
    assert default_role("Myeloblast") == "wbc" and default_role("None") == "artefact"
    assert default_role("platelets") == "platelet" and default_role("RBC") == "rbc"
    assert default_role("Erythroblast") == "other" and default_role("IG") == "wbc"
    assert default_role("Blast cell") is None
    assert is_untyped_wbc("WBC") and is_untyped_wbc("leukocyte") and not is_untyped_wbc("Myeloblast")


@pytest.mark.parametrize(
    "roles", ["roles: [wbc, null, rbc]\n", "roles: {Blast cell: wbc}\n", "roles: {0: wbc}\n"]
)
def test_yaml_roles_list_or_mapping(tmp_path: Path, roles: str) -> None:
    ds, _ = load_source(_yaml(tmp_path, roles))
    assert ds.roles["Blast cell"] == "wbc"
    assert class_roles(ds.classes, ds.roles) == ("wbc", "platelet", "rbc")
    out = write_dataset(ds, tmp_path / "copy", "yolo")
    again, _ = load_source(out)
    assert again.roles == {c: r for c, r in ds.roles.items()}


@pytest.mark.parametrize(
    "roles,message",
    [
        ("roles: [wbc, rbc]\n", r"data.yaml:2: 2 roles for 3 classes"),
        ("roles: {Blast: wbc}\n", r"data.yaml:2: 'Blast' is not a class"),
        ("roles: {Blast cell: white}\n", r"data.yaml:2: role 'white' of 'Blast cell' is not one of wbc"),
        ("roles: wbc\n", r"data.yaml:2: 'roles' must be a list"),
    ],
)
def test_bad_roles_name_file_and_line(tmp_path: Path, roles: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_source(_yaml(tmp_path, roles))
