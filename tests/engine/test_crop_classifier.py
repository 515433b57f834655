"""The crop path for attributes (issue #23): crops cut at network scale, the crop classifier and its CBM variant
trained by ``leukodet train-crops``, predictions through ``--crop-model`` in the head's JSON shape, and a rare
attribute value learned on an easy constructed case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from leukodet.cli import main
from leukodet.data.crops import cut_crops, square_windows
from leukodet.engine.crop_train import CropTrainConfig, evaluate_crops, train_crop_classifier
from leukodet.model.crop_classifier import (
    CropClassifier,
    CropConfig,
    concept_bottleneck,
    dihedral_view,
    load_crop_classifier,
)
from leukodet.records import AttributeSchema, Cell, Dataset, ImageRecord
from leukodet.records.io import write_dataset
from tests.conftest import tiny_checkpoint, write_image

SCHEMA = AttributeSchema.from_mapping({"vacuoles": ["no", "yes"], "size": ["small", "big"]})


def test_windows_are_squares_around_the_box_and_crops_see_it() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert square_windows(boxes, 0.25).tolist() == [[-10.0, 10.0, 50.0, 70.0]]  # side 40 · 1.5 = 60
    image = torch.zeros(1, 3, 100, 100)
    image[:, :, 20:60, 10:30] = 1.0  # the cell: bright, the rest dark
    crops, sides = cut_crops(image, [boxes], size=16, context=0.0)
    assert crops.shape == (1, 3, 16, 16) and sides.tolist() == [[20.0, 40.0]]
    assert (
        crops[0, :, 8, 8].min() > 0.9 and crops[0, :, 8, 0].max() < 0.1
    )  # centre bright, square's side dark
    assert cut_crops(image, [torch.zeros(0, 4)], 16, 0.1)[0].shape == (0, 3, 16, 16)


def test_the_cbm_reads_the_type_off_the_attribute_probabilities_only() -> None:
    cfg = CropConfig(arch="resnet18", size=32, classes=["a", "b", "c"], attributes=SCHEMA.to_mapping(),
                     type_from="attributes")  # fmt: skip
    model = CropClassifier(cfg).eval()
    assert model.type_logits.in_features == 4  # Σ K: the concepts, not the image features
    attrs, types = model(torch.rand(2, 3, 32, 32), torch.full((2, 2), 64.0))
    probs = torch.cat([attrs[:, :2].softmax(1), attrs[:, 2:].softmax(1)], 1)
    assert torch.allclose(types, model.type_logits(probs), atol=1e-6)
    assert torch.allclose(concept_bottleneck(attrs, [2, 2], model.type_logits), types)
    with pytest.raises(ValueError, match="concept-bottleneck"):
        CropConfig(classes=["a"], type_from="attributes")


def test_eight_views_make_the_calls_invariant_to_turns_and_mirrors() -> None:
    """Averaged over every quarter turn and mirror, a crop and its turned or mirrored copy get the same
    probabilities; one view does not; 2 views are invariant to the mirror only."""
    torch.manual_seed(0)
    cfg = CropConfig(arch="resnet18", size=32, classes=["a", "b", "c"], attributes=SCHEMA.to_mapping())
    model = CropClassifier(cfg).eval()
    x, sides = torch.rand(3, 3, 32, 32), torch.full((3, 2), 64.0)
    assert len({tuple(dihedral_view(x, v).flatten().tolist()) for v in range(8)}) == 8
    turned, mirrored = torch.rot90(x, 1, dims=(2, 3)), x.flip(3)

    def probs(views: int, crops: torch.Tensor) -> torch.Tensor:
        model.config.views = views
        attrs, types = model.infer(crops, sides)
        return torch.cat([attrs[:, :2].softmax(1), attrs[:, 2:].softmax(1), types.softmax(1)], 1)

    assert torch.allclose(probs(1, x), torch.cat([g.softmax(1) for g in (model(x, sides)[0][:, :2],
                          model(x, sides)[0][:, 2:], model(x, sides)[1])], 1), atol=1e-6)  # fmt: skip
    assert not torch.allclose(probs(1, x), probs(1, turned), atol=1e-4)
    assert torch.allclose(probs(8, x), probs(8, turned), atol=1e-5)
    assert torch.allclose(probs(8, x), probs(8, mirrored), atol=1e-5)
    assert torch.allclose(probs(2, x), probs(2, mirrored), atol=1e-5)
    assert not torch.allclose(probs(2, x), probs(2, turned), atol=1e-4)
    assert torch.allclose(probs(8, x)[:, :2].sum(1), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match="views"):
        CropConfig(attributes=SCHEMA.to_mapping(), views=3)


def test_a_saved_crop_model_keeps_its_attribute_order(tmp_path: Path) -> None:
    """Checkpoint metadata is stored with sorted keys; the loaded model must still read its logit groups in the
    training order (an alphabetical order here would swap a 3-value and a 2-value group)."""
    schema = {"vacuoles": ["no", "yes"], "size": ["small", "medium", "big"]}
    cfg = CropConfig(arch="resnet18", size=32, classes=["a"], attributes=schema)
    assert list(CropConfig.from_dict(json.loads(json.dumps(cfg.to_dict(), sort_keys=True))).attributes) == [
        "vacuoles", "size"]  # fmt: skip
    from leukodet.model.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = CropClassifier(cfg).eval()
    save_checkpoint(tmp_path / "c.pt", model.state_dict(), {"kind": "crop_classifier",
                    "crop_config": cfg.to_dict()})  # fmt: skip
    loaded = load_crop_classifier(tmp_path / "c.pt")
    assert loaded.config.attributes == schema and list(loaded.config.attributes) == ["vacuoles", "size"]
    x, sides = torch.rand(2, 3, 32, 32), torch.full((2, 2), 64.0)
    assert torch.equal(loaded(x, sides)[0], model(x, sides)[0])
    ckpt = load_checkpoint(tmp_path / "c.pt")  # a checkpoint of before the fix: refused, not misread
    ckpt["metadata"]["crop_config"].pop("attribute_order")
    save_checkpoint(tmp_path / "old.pt", ckpt["model"], ckpt["metadata"])
    with pytest.raises(ValueError, match="without its attribute order"):
        load_crop_classifier(tmp_path / "old.pt")


def _easy_set(root: Path, n: int = 42) -> Path:
    """``n`` 64² fields, one cell filling each; a rare vacuole (1 in 6) is a black dot in its middle, a big
    cell is brighter."""
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        vacuole, big = int(i % 6 == 0), int(i % 2)
        image = rng.integers(120, 140, (64, 64, 3), dtype=np.uint8) + np.uint8(60 * big)
        if vacuole:
            image[26:38, 26:38] = 0
        path = root / "img" / f"c{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        cell = Cell((4.0, 4.0, 60.0, 60.0), 0, {"vacuoles": vacuole, "size": big})
        records.append(ImageRecord(path, 64, 64, "train" if i < n - 12 else "val", (cell,)))
    return write_dataset(Dataset(records, ["Blast"], SCHEMA), root / "data", "coco")


def test_a_rare_value_is_predicted_on_an_easy_case(tmp_path: Path) -> None:
    data = _easy_set(tmp_path)
    cfg = CropTrainConfig(epochs=12, batch=12, lr=3e-3, balance=1.0, seed=0)
    result = train_crop_classifier(data, tmp_path / "run", {"size": 32, "imgsz": 64}, cfg)
    vac = result["val"]["attributes"]["vacuoles"]
    assert vac["f1"] > 0, vac  # the rare value is predicted, and right at least once
    assert (tmp_path / "run" / "results.csv").read_text().count("\n") == 13  # header + 12 epochs
    again = train_crop_classifier(data, tmp_path / "run", {"size": 32, "imgsz": 64},
                                  CropTrainConfig(epochs=13, batch=12, lr=3e-3), resume=True)  # fmt: skip
    assert again["epochs"] == 13 and (tmp_path / "run" / "results.csv").read_text().count("\n") == 14
    model = load_crop_classifier(tmp_path / "run" / "best.pt")
    assert model.config.attributes == SCHEMA.to_mapping() and model.config.classes == ["Blast"]


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("det") / "tiny.pt", ["None", "Blast"])


@pytest.mark.parametrize("type_from", ["image", "attributes"])
def test_train_crops_then_predict_gives_the_heads_json_shape(
    tmp_path: Path, detector: Path, type_from: str
) -> None:
    data = _easy_set(tmp_path, n=16)
    runner = CliRunner()
    trained = runner.invoke(main, ["train-crops", str(data), "--out", str(tmp_path / "crops"), "--size", "32",
                                   "--imgsz", "64", "--epochs", "1", "--batch", "8", "--type-from", type_from,
                                   "--views", "2"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    best = (
        tmp_path / "crops" / "best.pt"
    )  # the test-time views travel in the checkpoint; a load may change them
    assert (
        load_crop_classifier(best).config.views == 2 and load_crop_classifier(best, views=8).config.views == 8
    )
    fields = tmp_path / "fields"
    for i in range(2):
        write_image(fields / f"f{i}.png", 96, 80, seed=i)
    out = tmp_path / "pred"
    res = runner.invoke(main, ["predict", str(fields), "--weights", str(detector), "--out", str(out), "--conf",
                               "1e-3", "--max-det", "10", "--crop-model", str(tmp_path / "crops" / "best.pt")])  # fmt: skip
    assert res.exit_code == 0, res.output
    cells = [c for p in sorted(out.glob("*.json")) for c in json.loads(p.read_text())["cells"]]
    named = [c for c in cells if c["class"] != "None"]
    assert named and all(set(c["attributes"]) == {"vacuoles", "size"} for c in named)
    for c in named:  # the head's shape: each attribute a value of its schema and that value's probability
        for name, call in c["attributes"].items():
            assert call["value"] in SCHEMA[name].values and 0.5 <= call["score"] <= 1.0
    onnx = runner.invoke(main, ["predict", str(fields), "--weights", str(detector), "--out", str(tmp_path / "o"),
                                "--backend", "onnx", "--crop-model", str(tmp_path / "crops" / "best.pt")])  # fmt: skip
    assert onnx.exit_code == 2 and "torch backend" in onnx.output


def test_a_detector_checkpoint_is_not_a_crop_model(tmp_path: Path, detector: Path) -> None:
    write_image(tmp_path / "f.png", 64, 64)
    res = CliRunner().invoke(main, ["predict", str(tmp_path / "f.png"), "--weights", str(detector), "--out",
                                    str(tmp_path / "o"), "--crop-model", str(detector)])  # fmt: skip
    assert res.exit_code == 2 and "not a crop classifier checkpoint" in res.output


def test_evaluate_crops_scores_each_attribute_and_the_type(tmp_path: Path) -> None:
    from leukodet.data.crops import crop_set
    from leukodet.records.sources import load_source

    ds, _ = load_source(_easy_set(tmp_path, n=12))
    data = crop_set(ds.records, SCHEMA.names, 32, 0.1, 64)
    model = CropClassifier(CropConfig(size=32, imgsz=64, classes=["Blast"], attributes=SCHEMA.to_mapping()))
    metrics = evaluate_crops(model, data)
    assert metrics["n"] == 12 and set(metrics["attributes"]) == {"vacuoles", "size"}
    assert metrics["type_accuracy"] == 1.0  # one class: always right
    assert 0 <= metrics["accuracy"] <= 1 and metrics["attributes"]["vacuoles"]["n"] == 12


def test_val_scores_the_attributes_of_the_crop_path(tmp_path: Path) -> None:
    from leukodet import api

    data = _easy_set(tmp_path, n=16)
    det = tiny_checkpoint(
        tmp_path / "tiny.pt", ["Blast"]
    )  # no AttriHead: attributes come from the crops only
    api.train_crops(data, tmp_path / "crops", crop={"size": 32, "imgsz": 64}, epochs=1, batch=8)
    assert "attributes_mean" not in api.val(det, data, split="val", imgsz=64)
    m = api.val(det, data, split="val", imgsz=64, crop_model=tmp_path / "crops" / "best.pt")
    assert set(m["attributes"]) == {"vacuoles", "size"} and m["attributes"]["size"]["n"] == 12
    assert 0 <= m["attributes_mean"]["accuracy"] <= 1
