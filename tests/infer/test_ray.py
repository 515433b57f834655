"""``leukodet predict --engine ray``: the same outputs as the local engine (a tiled field included), a corrupt image
as one error row, a killed worker, resume, and the one-line message without Ray. One local Ray (2 CPUs for
2 workers) serves the whole module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from tests.conftest import write_image

ray = pytest.importorskip("ray") if not os.environ.get("CI") else __import__("ray")

KILL_MARKER = "LEUKODET_RAY_KILL_ONCE"


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    marker = tmp_path_factory.mktemp("kill") / "armed"
    os.environ[KILL_MARKER] = str(marker)  # workers inherit the environment Ray starts with
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    yield marker
    ray.shutdown()
    os.environ.pop(KILL_MARKER, None)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight small fields, one 300 x 200 (tiled at imgsz 64: long side > 2 x 64) and one corrupt file."""
    root = tmp_path_factory.mktemp("imgs")
    for i in range(8):
        write_image(root / f"f{i}.png", 80 + 4 * i, 64, seed=i)
    write_image(root / "large.png", 300, 200, seed=99)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return root


def _predict(out: Path, weights: Path, images: Path, *extra: str) -> object:
    args = [
        "predict",
        str(images),
        "--weights",
        str(weights),
        "--out",
        str(out),
        "--conf",
        "1e-3",
        "--max-det",
        "20",
    ]
    return CliRunner().invoke(main, [*args, "--batch", "2", "--imgsz", "64", "--no-progress", *extra])


def _outputs(folder: Path) -> dict[str, object]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}


def test_ray_writes_the_local_engine_outputs_and_one_error_row(
    tmp_path: Path, weights: Path, images: Path
) -> None:
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert _predict(local, weights, images).exit_code == 0
    result = _predict(distributed, weights, images, "--engine", "ray", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "ray: 9 predicted, 0 already done, 1 unreadable" in result.output and "2 workers" in result.output
    assert _outputs(local).keys() == _outputs(distributed).keys()  # same files
    for name in [n for n in _outputs(local) if n.endswith(".json") and n.startswith(("f", "large"))]:
        a, b = (json.loads((d / name).read_text()) for d in (local, distributed))
        assert [c["class"] for c in a["cells"]] == [c["class"] for c in b["cells"]]  # same cells, same order
        for ca, cb in zip(a["cells"], b["cells"]):
            assert max(abs(x - y) for x, y in zip(ca["box"], cb["box"])) <= 1e-4
    assert len(json.loads((local / "large.json").read_text())["cells"]) > 0  # the tiled field found cells
    assert (local / "predictions.csv").read_text() == (distributed / "predictions.csv").read_text()
    errors = [json.loads(line) for line in (distributed / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == 1 and errors[0]["image"].endswith("broken.png") and errors[0]["error"]
    rows = (distributed / "predictions.unreadable.csv").read_text().splitlines()
    assert len(rows) == 2 and "broken.png" in rows[1]


def test_a_killed_worker_and_a_rerun_still_write_every_image_once(
    tmp_path: Path, weights: Path, images: Path, local_ray: Path
) -> None:
    out = tmp_path / "ray"
    local_ray.write_text("f3")  # the worker that gets f3 dies once, mid-run
    result = _predict(out, weights, images, "--engine", "ray", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert not local_ray.exists()  # the kill happened
    assert sorted(p.name for p in out.glob("*.json")) == sorted(
        [f"f{i}.json" for i in range(8)] + ["large.json"]
    )
    assert not list(out.glob("*.tmp*"))  # nothing half-written
    listed = [row.split(",")[0] for row in (out / "predictions.csv").read_text().splitlines()[1:]]
    assert sorted(set(listed)) == sorted(str(p) for p in images.glob("*.png") if p.name != "broken.png")
    (out / "f5.json").unlink()  # a partial image: its PNG is there, its JSON is not
    again = _predict(out, weights, images, "--engine", "ray", "--workers", "2")
    assert again.exit_code == 0 and "ray: 1 predicted, 8 already done, 1 unreadable" in again.output  # f5
    assert (out / "f5.json").is_file()


def test_predict_dataset_for_ray_pipelines(weights: Path, images: Path) -> None:
    from leukodet.infer.ray_engine import RayOptions, predict_dataset

    paths = ray.data.from_items([{"path": str(images / "f0.png")}, {"path": str(images / "broken.png")}])
    rows = {
        Path(r["path"]).name: r
        for r in predict_dataset(paths, weights, options=RayOptions(workers=1)).iter_rows()
    }
    assert rows["broken.png"]["cells"] == -1 and rows["broken.png"]["error"]
    doc = json.loads(rows["f0.png"]["prediction"])
    assert doc["model"] == "tiny.pt" and len(doc["cells"]) == rows["f0.png"]["cells"]


def test_without_ray_one_line_says_how_to_install(
    tmp_path: Path, weights: Path, images: Path, monkeypatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = _predict(tmp_path / "x", weights, images, "--engine", "ray")
    assert result.exit_code == 2 and "pip install 'leukodet[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    both = _predict(tmp_path / "y", weights, images, "--engine", "ray", "--shard", "0/2")
    assert both.exit_code == 2 and "--shard" in both.output


def test_api_predict_run_on_ray_reports_its_rate(tmp_path: Path, weights: Path, images: Path) -> None:
    result = api.predict_run(weights, [str(images / "f1.png")], tmp_path / "one", imgsz=64,
                             ray={"workers": 1})  # fmt: skip
    assert result["predicted"] == 1 and result["workers"] == 1 and result["seconds"] > 0


def test_ray_reads_a_uri_and_writes_the_local_film_report(
    tmp_path: Path, weights: Path, images: Path
) -> None:
    pytest.importorskip("pyarrow")
    local = _predict(tmp_path / "local", weights, images, "--report")
    uri = images.resolve().as_uri()  # decoded in the workers through pyarrow, as s3:// would be
    distributed = _predict(tmp_path / "ray", weights, uri, "--report", "--engine", "ray", "--workers", "2")
    assert local.exit_code == 0 and distributed.exit_code == 0, distributed.output
    a, b = (json.loads((tmp_path / d / "report" / "report.json").read_text()) for d in ("local", "ray"))
    assert a["differential"] == b["differential"] and a["flags"] == b["flags"]
    assert [f["image"].rsplit("/", 1)[-1] for f in a["fields"]] == [
        f["image"].rsplit("/", 1)[-1] for f in b["fields"]
    ]  # fmt: skip
    assert len(b["skipped_fields"]) == 1 and "broken.png" in str(b["skipped_fields"][0])
