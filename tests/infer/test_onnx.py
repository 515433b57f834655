"""ONNX export and the ONNX Runtime backend: same predictions as PyTorch, metadata, CLI, service, errors.

The model is an untrained ``test_tiny`` with an AttriHead whose batch norms are calibrated on a few synthetic
fields and whose detection-head weights are drawn wider (seeded): its scores are spread and distinct, so the
comparison covers well over a hundred boxes of every kind (named cells with attribute calls, ``None`` cells
without) instead of the nearly constant, tied scores of a freshly initialised model. Its vocabulary adds the
parent class ``WBC`` to the LLD classes, so both backends must agree on the hierarchy too (a box takes its most
specific class).
"""

from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from leukodet import api
from leukodet.cli import main
from leukodet.infer.onnx_backend import OnnxBackendError, OnnxDetector
from leukodet.infer.onnx_export import METADATA_KEYS
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import save_checkpoint
from leukodet.model.registry import create_model
from leukodet.records import LLD_CLASSES, lld_schema
from leukodet.records.prediction import Prediction
from leukodet.records.vocab import class_parents
from leukodet.serve import create_app
from leukodet.synth import render_field

with warnings.catch_warnings():  # starlette prefers the httpx2 fork; plain httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

torch.set_num_threads(1)  # both backends (ONNX Runtime takes torch's thread count): fast on a busy machine

SIZE = 160
CONF = 0.01
NAMES = [*LLD_CLASSES, "WBC"]
SEEDS = (0, 2, 3, 6, 7)  # fields whose best scores stay below 1 (no saturated ties at max_det)


def _fields(seeds: tuple[int, ...] = SEEDS) -> list[np.ndarray]:
    return [render_field(s, size=SIZE).image for s in seeds]


def _spread_model(**head: object) -> torch.nn.Module:
    """A deterministic ``test_tiny`` with an AttriHead (``head``: its view fields), calibrated batch norms and
    spread detection scores."""
    torch.manual_seed(0)
    sizes = [len(v) for v in lld_schema().to_mapping().values()]
    model = create_model(
        "test_tiny", len(NAMES), attribute_sizes=sizes, class_parents=class_parents(NAMES), **head
    )
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
    calibration = np.stack(_fields((10, 11, 12, 13)))
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(calibration).permute(0, 3, 1, 2).float() / 255)
        for conv in model.head.convs:
            conv.weight.normal_(0, 0.15)
    return model.eval()


def _save(model: torch.nn.Module, folder: Path) -> Path:
    schema = lld_schema()
    meta = {
        "classes": NAMES,
        "imgsz": SIZE,
        "model_config": model.config.to_dict(),
        "attributes": schema.to_mapping(),
        "attribute_order": list(schema.names),
        "leukodet": "test",
    }
    return save_checkpoint(folder / "tiny.pt", model.state_dict(), meta)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(_spread_model(), tmp_path_factory.mktemp("onnx"))


@pytest.fixture(scope="module")
def exported(weights: Path) -> Path:
    return api.export(weights, weights.parent / "export")


def _pairs(ref: Prediction, got: Prediction) -> list[tuple[int, int]]:
    """Pair each reference cell (best first) with the nearest unpaired cell of the same class in ``got``
    (scores that differ by float noise may order close cells differently)."""
    free = np.ones(len(got), bool)
    pairs = []
    for i in np.argsort(-ref.scores, kind="stable"):
        gap = np.abs(got.boxes - ref.boxes[i]).max(1) + np.where(free, 0, np.inf)
        gap[got.class_ids != ref.class_ids[i]] = np.inf
        j = int(np.argmin(gap))
        assert np.isfinite(gap[j]), f"no cell of class {ref.class_ids[i]} left for cell {i}"
        free[j] = False
        pairs.append((int(i), j))
    return pairs


def _assert_same(ref: Prediction, got: Prediction) -> tuple[float, float]:
    """Same cells (classes, attribute values) with boxes within 1 px and scores within 1e-3; the max errors."""
    assert len(ref) == len(got) and (ref.width, ref.height) == (got.width, got.height)
    assert ref.attributes is not None and got.attributes is not None
    box = score = 0.0
    for i, j in _pairs(ref, got):
        box = max(box, float(np.abs(ref.boxes[i] - got.boxes[j]).max()))
        score = max(score, abs(float(ref.scores[i] - got.scores[j])))
        x, y = ref.attributes[i], got.attributes[j]
        assert x.keys() == y.keys() and all(x[k].value == y[k].value for k in x)
        assert all(abs(x[k].score - y[k].score) <= 1e-3 for k in x)
    assert box <= 1.0 and score <= 1e-3, (box, score)
    return box, score


def test_onnx_predictions_match_torch(weights: Path, exported: Path) -> None:
    fields = _fields()
    wide = np.concatenate(fields[:3], 1)  # 480 x 160: tiled (long side > 2 x imgsz)
    torch_det, onnx_det = Detector.load(weights), OnnxDetector.load(exported)
    ref = torch_det.predict([*fields, wide], conf=CONF, batch=2)
    got = onnx_det.predict([*fields, wide], conf=CONF, batch=2)
    errors = [_assert_same(r, g) for r, g in zip(ref, got)]
    cells = [c for p in ref for c in p.attributes or []]
    named = sum(1 for p in ref for k in p.class_ids if p.class_names[k] != "None")
    assert len(cells) >= 150 and 0 < named < len(cells), (len(cells), named)
    assert sum(1 for c in cells if c) == named  # attribute calls on every named cell, none on "None" cells
    assert max(e[0] for e in errors) < 0.1 and max(e[1] for e in errors) < 1e-3
    labels = {p.class_names[k] for p in ref for k in p.class_ids}
    assert "WBC" in labels and len(labels & set(LLD_CLASSES[1:])) >= 3  # untyped and typed WBCs both occur


def test_onnx_keeps_a_non_default_attribute_view(tmp_path: Path) -> None:
    """A head with a square ROI, the stride-16 map, a context margin and the test-time mirror view (issue #23's
    switches) is exported as trained: the same cells and attribute calls as PyTorch."""
    view = {
        "attribute_roi": (16, 16),
        "attribute_taps": ("stem", "c3_p3", "c3_p4"),
        "attribute_context": 0.25,
        "attribute_flip": True,
    }
    weights = _save(_spread_model(**view), tmp_path)
    fields = _fields((0, 2))
    ref = Detector.load(weights).predict(fields, conf=CONF, batch=2)
    got = OnnxDetector.load(api.export(weights, tmp_path / "export")).predict(fields, conf=CONF, batch=2)
    for r, g in zip(ref, got):
        _assert_same(r, g)
    assert Detector.load(weights).model.config.attribute_taps == view["attribute_taps"]
    calls = [c[k].score for p in ref for c in p.attributes or [] if c for k in c]
    assert len(calls) > 50


@pytest.mark.parametrize(
    "options",
    [{"multi_label": True, "batch": 3}, {"imgsz": 96}, {"max_det": 7}, {"conf": 0.2, "iou": 0.3}],
    ids=["multi_label", "imgsz96", "max_det", "conf_iou"],
)
def test_graph_inputs_follow_the_options(weights: Path, exported: Path, options: dict) -> None:
    options = {"conf": CONF, **options}
    ref = Detector.load(weights).predict(_fields(), **options)
    got = OnnxDetector.load(exported).predict(_fields(), **options)
    for r, g in zip(ref, got):
        _assert_same(r, g)
    assert sum(len(p) for p in ref) >= 5
    if "max_det" in options:
        assert max(len(p) for p in got) == options["max_det"]


def test_metadata_round_trips(weights: Path, exported: Path) -> None:
    import onnx

    props = {p.key: p.value for p in onnx.load(exported).metadata_props}
    assert set(METADATA_KEYS) <= set(props)
    torch_det, onnx_det = Detector.load(weights), OnnxDetector.load(exported)
    assert onnx_det.metadata == torch_det.metadata
    assert onnx_det.class_names == torch_det.class_names and onnx_det.imgsz == torch_det.imgsz == SIZE
    assert list(onnx_det.attributes.items()) == list(torch_det.attributes.items())  # order included
    assert int(props["leukodet.stride"]) == 32 and props["leukodet.source"] == "tiny.pt"
    assert json.loads(props["leukodet.attribute_order"]) == list(lld_schema().names)
    assert onnx_det.input_size(100) == 128 and onnx_det.input_size(None) == SIZE


def test_cli_export_and_predict_with_onnx_backend(weights: Path, exported: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["export", "--weights", str(weights), "--format", "onnx", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "model.onnx").is_file() and "model.onnx" in result.stderr
    image = tmp_path / "field.png"
    Image.fromarray(_fields()[0]).save(image)
    docs = {}
    for backend, model in (("onnx", tmp_path / "m" / "model.onnx"), ("torch", weights)):
        out = tmp_path / backend
        args = ["predict", str(image), "--weights", str(model), "--out", str(out), "--conf", str(CONF)]
        result = CliRunner().invoke(main, [*args, "--backend", backend, "--no-annotate"])
        assert result.exit_code == 0, result.output
        docs[backend] = json.loads((out / "field.json").read_text())
    onnx_cells, torch_cells = docs["onnx"]["cells"], docs["torch"]["cells"]
    assert len(onnx_cells) == len(torch_cells) >= 50 and docs["onnx"]["model"] == "model.onnx"
    assert sorted(c["class"] for c in onnx_cells) == sorted(c["class"] for c in torch_cells)


def test_serve_answers_an_analysis_with_onnx_backend(weights: Path, exported: Path, tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.fromarray(_fields()[0]).save(png, format="PNG")
    reports = {}
    for backend, model in (("onnx", exported), ("torch", weights)):
        app = create_app(str(model), tmp_path / backend, backend=backend, conf=CONF)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            answer = client.post("/v1/analyses", files=[("files", ("a.png", png.getvalue()))])
            assert answer.status_code == 201, answer.text
            reports[backend] = answer.json()["report"]
            assert client.get("/v1/model").json()["weights"] == Path(model).name
    cells = {k: sorted((c["class"], round(c["score"], 3)) for c in r["cells"]) for k, r in reports.items()}
    assert cells["onnx"] and len(cells["onnx"]) == len(cells["torch"])
    assert [c for c, _ in cells["onnx"]] == [c for c, _ in cells["torch"]]


def test_user_errors_are_one_clear_line(weights: Path, exported: Path, tmp_path: Path) -> None:
    image = tmp_path / "f.png"
    Image.fromarray(_fields()[0]).save(image)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    predict = ["predict", str(image), "--out", str(tmp_path / "p"), "--weights"]
    export = ["export", "--weights", str(weights), "--out"]
    serve = ["serve", "--data-dir", str(tmp_path / "d"), "--weights"]
    cases = [
        ([*export, str(tmp_path / "e"), "--format", "tflite"], "unknown export format 'tflite'"),
        ([*export, str(tmp_path / "e"), "--opset", "13"], "--opset 13: choose 16-20"),
        ([*export, str(exported.parent)], "already exists (pass --overwrite"),
        ([*predict, str(weights), "--backend", "onnx"], "a PyTorch checkpoint, not an ONNX model"),
        ([*predict, str(exported)], "an ONNX model; pass --backend onnx"),
        ([*predict, str(tmp_path / "junk.onnx"), "--backend", "onnx"], "not a loadable ONNX model"),
        ([*predict, str(tmp_path / "none.onnx"), "--backend", "onnx"], "ONNX model not found"),
        ([*serve, str(weights), "--backend", "onnx"], "a PyTorch checkpoint"),
    ]
    for args, needle in cases:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ") and needle in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_missing_onnxruntime_names_the_extra(exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(OnnxBackendError, match=r"pip install 'leukodet\[onnx\]'"):
        OnnxDetector.load(exported)


def test_val_on_the_onnx_backend_scores_as_torch(weights: Path, exported: Path, tmp_path: Path) -> None:
    """``leukodet val --backend onnx`` goes through the same Detector path as torch: same figures."""
    data = api.synth(tmp_path / "data", images=6, seed=3, size=SIZE, progress=False)
    ref = api.val(weights, data, split="train", conf_op=CONF)
    got = api.val(exported, data, split="train", conf_op=CONF, backend="onnx")
    assert ref["images"] == got["images"] > 0
    assert got["map50"] == pytest.approx(ref["map50"], abs=2e-3)
    assert got["map50_95"] == pytest.approx(ref["map50_95"], abs=2e-3)
    for name, c in ref["per_class"].items():
        assert got["per_class"][name]["n_gt"] == c["n_gt"]
        assert got["per_class"][name]["ap50"] == pytest.approx(c["ap50"], abs=5e-3)
    assert ref["attributes_mean"]["accuracy"] > 0.3  # the head's calls on matched cells are compared too
    for key in ("accuracy", "macro_f1"):
        assert got["attributes_mean"][key] == pytest.approx(ref["attributes_mean"][key], abs=0.02)
    for key in ("precision", "recall", "count_abs_err_per_image"):
        assert got["operating_point"][key] == pytest.approx(ref["operating_point"][key], abs=0.02)
    result = CliRunner().invoke(
        main, ["val", "--weights", str(weights), "--data", str(data), "--backend", "onnx"]
    )
    assert result.exit_code == 2 and "a PyTorch checkpoint, not an ONNX model" in result.stderr
