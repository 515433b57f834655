"""``leukodet predict`` into a folder: deterministic shards, resume after an interruption, bad shard specs."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.infer import fields as fields_module
from leukodet.infer.predictor import Detector
from leukodet.infer.sharding import parse_shard, rank_device, shard_indices, torchrun_shard
from tests.conftest import write_image

REAL_PREDICT = Detector.predict
REAL_DECODE = fields_module.decode_field


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven images, two of them with the same stem (``a.png`` and ``sub/a.png``)."""
    root = tmp_path_factory.mktemp("imgs")
    for i, name in enumerate(["a", "b", "c", "d", "e", "sub/a", "sub/f"]):
        write_image(root / f"{name}.png", 80 + 8 * i, 60, seed=i)
    return root


def _run(out: Path, weights: Path, images: Path, *extra: str) -> object:
    args = ["predict", str(images), "--weights", str(weights), "--out", str(out), "--conf", "1e-4"]
    return CliRunner().invoke(main, [*args, "--max-det", "5", "--batch", "2", "--no-annotate", *extra])


def _rows(path: Path) -> list[tuple[str, ...]]:
    with path.open() as fh:
        return [tuple(r) for r in csv.reader(fh)][1:]


def _counting(monkeypatch: pytest.MonkeyPatch, fail_after: int | None = None) -> list[str]:
    """The files whose pixels were sent to ``Detector.predict`` (optionally crashing after ``fail_after``)."""
    seen: list[str] = []
    decoded: list[str] = []

    def decode(source: object) -> tuple:
        decoded.append(str(source))
        return REAL_DECODE(source)

    def predict(self: Detector, images: list, *args: object, **kwargs: object) -> list:
        if fail_after is not None and len(seen) >= fail_after:
            raise RuntimeError("simulated crash")
        seen.extend(decoded[len(seen) : len(seen) + len(images)])
        return REAL_PREDICT(self, images, *args, **kwargs)

    monkeypatch.setattr(fields_module, "decode_field", decode)
    monkeypatch.setattr(Detector, "predict", predict)
    return seen


def test_shards_partition_the_run(tmp_path: Path, weights: Path, images: Path) -> None:
    whole = _run(tmp_path / "whole", weights, images)
    assert whole.exit_code == 0, whole.output
    jsons = sorted(p.name for p in (tmp_path / "whole").glob("*.json"))
    assert jsons == ["a.json", "a_1.json", "b.json", "c.json", "d.json", "e.json", "f.json"]
    rows: list[tuple[str, ...]] = []
    for i in range(3):
        res = _run(tmp_path / "sharded", weights, images, "--shard", f"{i}/3")
        assert res.exit_code == 0, res.output
        rows += _rows(tmp_path / "sharded" / f"predictions.shard{i}of3.csv")
    assert not (tmp_path / "sharded" / "predictions.csv").exists()
    assert sorted(p.name for p in (tmp_path / "sharded").glob("*.json")) == jsons
    for name in jsons:  # same names and same predictions (sub/a.png is a_1 in every shard)
        assert (tmp_path / "sharded" / name).read_text() == (tmp_path / "whole" / name).read_text()
    whole_rows = _rows(tmp_path / "whole" / "predictions.csv")
    assert whole_rows and sorted(rows) == sorted(whole_rows)
    shard1 = {r[0] for r in _rows(tmp_path / "sharded" / "predictions.shard1of3.csv")}
    ordered = sorted(p for p in images.rglob("*.png"))
    assert shard1 <= {str(ordered[k]) for k in (1, 4)}
    assert shard_indices(7, (1, 3)) == [1, 4] and shard_indices(3, None) == [0, 1, 2]


def test_resume_skips_finished_images(
    tmp_path: Path, weights: Path, images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _counting(monkeypatch, fail_after=4)
    crashed = _run(tmp_path / "out", weights, images)
    assert isinstance(crashed.exception, RuntimeError) and len(seen) == 4
    assert len(list((tmp_path / "out").glob("*.json"))) == 4  # finished images survive the interruption
    seen = _counting(monkeypatch)
    assert _run(tmp_path / "out", weights, images).exit_code == 0 and len(seen) == 3
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.json")}
    (tmp_path / "out" / "c.json").unlink()
    seen = _counting(monkeypatch)
    assert _run(tmp_path / "out", weights, images, "--progress").exit_code == 0
    assert [Path(s).name for s in seen] == ["c.png"]
    for name, stamp in stamps.items():
        assert name == "c.json" or (tmp_path / "out" / name).stat().st_mtime_ns == stamp
    clean = _run(tmp_path / "clean", weights, images, "--no-resume")
    assert clean.exit_code == 0
    assert _rows(tmp_path / "out" / "predictions.csv") == _rows(tmp_path / "clean" / "predictions.csv")
    seen = _counting(monkeypatch)
    assert _run(tmp_path / "out", weights, images, "--no-resume").exit_code == 0 and len(seen) == 7


def test_torchrun_environment_selects_the_shard(
    tmp_path: Path, weights: Path, images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    done = api.predict(weights, [str(images)], tmp_path / "o", conf=1e-4, max_det=5, annotate=True)
    assert [p.relative_to(images).as_posix() for p in done] == ["c.png", "sub/a.png"]
    assert (tmp_path / "o" / "predictions.shard2of3.csv").is_file() and (tmp_path / "o" / "c.png").is_file()
    assert sorted(p.name for p in (tmp_path / "o").glob("*.json")) == ["a_1.json", "c.json"]
    assert torchrun_shard({"RANK": "0", "WORLD_SIZE": "1"}) is None and torchrun_shard({}) is None
    assert (
        rank_device("cuda", {"LOCAL_RANK": "3"}) == "cuda:3"
        and rank_device("cpu", {"LOCAL_RANK": "3"}) == "cpu"
    )


@pytest.mark.parametrize("spec", ["3/2", "a/b", "1", "-1/2", "0/0", "1/2/3"])
def test_bad_shard_is_a_user_error(tmp_path: Path, weights: Path, images: Path, spec: str) -> None:
    res = _run(tmp_path / "o", weights, images, "--shard", spec)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.startswith(f"error: --shard {spec!r}: expected I/N")
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="expected I/N"):
        parse_shard(spec)
    assert parse_shard(" 1/4 ") == (1, 4)


def test_bad_tile_overlap_is_a_user_error(tmp_path: Path, weights: Path, images: Path) -> None:
    res = _run(tmp_path / "o", weights, images, "--tile-overlap", "0.7")
    assert res.exit_code == 2 and res.stderr.startswith("error: tile overlap must be")


def test_output_folder_inside_the_source_is_not_input(
    tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("x", "y"):
        write_image(tmp_path / f"{name}.png", 70, 50)
    out = tmp_path / "preds"
    assert len(api.predict(weights, [str(tmp_path)], out, conf=1e-4, max_det=3)) == 2
    assert (out / "x.png").is_file()  # an annotated PNG now sits inside the source folder
    seen = _counting(monkeypatch)
    assert len(api.predict(weights, [str(tmp_path)], out, conf=1e-4, max_det=3)) == 2 and not seen


def test_a_corrupt_image_is_skipped_listed_and_the_rest_written(
    tmp_path: Path, weights: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "film"
    for name in ("a", "b", "c"):
        write_image(src / f"{name}.png", 70, 50)
    good = (src / "b.png").read_bytes()
    (src / "b.png").write_bytes(good[: len(good) // 3])  # truncated
    (src / "anim.gif").write_bytes(b"GIF89a" + b"\0" * 20)  # an image type leukodet does not read
    with caplog.at_level("WARNING"):
        res = _run(tmp_path / "o", weights, src)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "Traceback" not in res.output  # type: ignore[attr-defined]
    assert sorted(p.name for p in (tmp_path / "o").glob("*.json")) == ["a.json", "c.json"]
    listing = (tmp_path / "o" / "predictions.unreadable.csv").read_text().splitlines()
    assert listing[0] == "image,reason" and len(listing) == 2 and listing[1].startswith(str(src / "b.png"))
    errors = (tmp_path / "o" / "errors.jsonl").read_text().splitlines()
    assert len(errors) == 1 and json.loads(errors[0])["image"] == str(src / "b.png")
    assert "skipped 1 unreadable images" in res.stderr  # type: ignore[attr-defined]
    assert "b.png: unreadable image skipped" in caplog.text
    assert "anim.gif" in caplog.text and "not a supported image type" in caplog.text
    strict = _run(tmp_path / "s", weights, src, "--strict")
    assert strict.exit_code == 2 and "1 unreadable images" in strict.stderr  # type: ignore[attr-defined]
    assert (tmp_path / "s" / "a.json").is_file()  # the readable ones are written before the error


def test_nothing_readable_is_an_error(tmp_path: Path, weights: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    res = _run(tmp_path / "o", weights, tmp_path / "bad.png")
    assert res.exit_code == 2 and "no image could be read" in res.stderr  # type: ignore[attr-defined]


def test_sources_may_be_list_files_and_glob_patterns(tmp_path: Path, images: Path) -> None:
    from leukodet.infer.sources import expand_sources

    listing = tmp_path / "fields.txt"
    listing.write_text(f"# one film\n{images / 'b.png'}\n\n{images / 'sub' / 'f.png'}\n")
    assert expand_sources([listing]) == [images / "b.png", images / "sub" / "f.png"]
    pattern = str(images / "**" / "a.png")
    assert expand_sources([pattern]) == [images / "a.png", images / "sub" / "a.png"]
    (tmp_path / "bad.txt").write_text(f"{images / 'b.png'}\nnope.png\n")
    with pytest.raises(FileNotFoundError, match=r"bad.txt, line 2: no such image"):
        expand_sources([tmp_path / "bad.txt"])
    with pytest.raises(FileNotFoundError, match="no images found"):
        expand_sources([str(tmp_path / "*.png")])


def test_sources_may_be_uris_read_through_pyarrow(tmp_path: Path, weights: Path, images: Path) -> None:
    from leukodet.infer.sources import expand_sources

    pytest.importorskip("pyarrow")
    root = images.resolve().as_uri()  # file:///…: a pyarrow file system, as s3:// or gs:// would be
    assert expand_sources([root]) == [f"{root}/{n}" for n in ("a.png", "b.png", "c.png", "d.png", "e.png",
                                                              "sub/a.png", "sub/f.png")]  # fmt: skip
    listing = tmp_path / "remote.txt"
    listing.write_text(f"{os.path.relpath(images, tmp_path)}/b.png\n")  # behind a URI: relative to its folder
    assert expand_sources([listing.resolve().as_uri()]) == [f"{root}/b.png"]
    (tmp_path / "bad.txt").write_text("b.png\n")
    with pytest.raises(FileNotFoundError, match=r"bad.txt, line 1: no such image"):
        expand_sources([(tmp_path / "bad.txt").resolve().as_uri()])
    with pytest.raises(FileNotFoundError, match="no such image or folder"):
        expand_sources([f"{root}/nope"])
    with pytest.raises(ValueError, match="not a URI pyarrow can open"):
        expand_sources(["nosuchscheme://bucket/films"])
    by_path, by_uri = _run(tmp_path / "p", weights, images), _run(tmp_path / "u", weights, root)
    assert by_path.exit_code == 0 and by_uri.exit_code == 0, by_uri.output
    names = sorted(p.name for p in (tmp_path / "p").glob("*.json"))
    assert names == sorted(p.name for p in (tmp_path / "u").glob("*.json")) and len(names) == 7
    for name in names:  # the same cells; only the image's name differs (a path, a URI)
        a, b = (json.loads((tmp_path / d / name).read_text()) for d in ("p", "u"))
        assert a["cells"] == b["cells"] and b["image"].startswith("file:///")


def test_without_pyarrow_a_uri_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from leukodet.infer.sources import expand_sources

    monkeypatch.setitem(sys.modules, "pyarrow.fs", None)  # import pyarrow.fs -> ImportError
    with pytest.raises(ValueError, match=r"reading URIs needs pyarrow: pip install pyarrow"):
        expand_sources(["s3://bucket/films/"])


def test_predict_writes_the_film_report_of_the_whole_run(tmp_path: Path, weights: Path, images: Path) -> None:
    res = _run(tmp_path / "o", weights, images, "--report")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "report" / "report.json").read_text())
    assert len(doc["fields"]) == 7 and (tmp_path / "o" / "report" / "report.html").is_file()
    counted = sum(len(json.loads(p.read_text())["cells"]) for p in (tmp_path / "o").glob("*.json"))
    assert 0 < doc["differential"]["total"] <= counted  # the WBCs among the written cells
    assert doc["skipped_fields"] == []
    shard = _run(tmp_path / "s", weights, images, "--report", "--shard", "0/2")
    assert shard.exit_code == 2 and "needs the whole film" in shard.output
