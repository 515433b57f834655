"""Fuzzing the label parsers: any text either reads (problems counted) or fails with one DataError line."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukodet.records import DataError, Diagnostics, load_source

from ..conftest import write_image

token = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-3, 20).map(str),
    st.text(alphabet="0123456789.-e+naif ", max_size=6),
)
line = st.lists(token, min_size=0, max_size=17).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(line, max_size=6))
def test_yolo_label_text_never_crashes(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_image(root / "images" / "a.png", 64, 48)
        (root / "labels").mkdir()
        (root / "labels" / "a.txt").write_text("\n".join(lines))
        (root / "data.yaml").write_text("names: [a, b, c]\ntrain: images\n")
        ds, diag = load_source(root / "data.yaml")
        assert len(ds.records) == 1
        parsed_lines = sum(1 for ln in lines if ln.split())
        cells = len(ds.records[0].cells)
        assert cells <= parsed_lines
        # every non-blank line is either a box or a reported problem (nothing dropped silently)
        unparsed = {p.line for p in diag.problems if p.reason in ("not_a_number", "bad_columns")}
        assert cells + len(unparsed) == parsed_lines
        try:
            load_source(root / "data.yaml", Diagnostics(strict=True))
        except DataError as exc:
            assert "\n" not in str(exc) and "a.txt" in str(exc)


@settings(max_examples=40, deadline=None)
@given(
    doc=st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "images",
                        "annotations",
                        "categories",
                        "bbox",
                        "id",
                        "image_id",
                        "file_name",
                        "width",
                        "height",
                        "category_id",
                        "labeled_regions",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_coco_shapes_never_crash(doc: object) -> None:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.json"
        path.write_text(json.dumps(doc))
        try:
            load_source(path)
        except DataError as exc:
            assert "a.json" in str(exc)


def _mutated(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: max(1, len(data) - cut)])
    for pos, value in flips:
        out[pos % len(out)] = value
    return bytes(out)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    name=st.sampled_from(["b.png", "sub/../b.png", "../b.png", "../../etc/passwd", "/etc/hosts", "b.png\0x"]),
    fmt=st.sampled_from(["PNG", "JPEG"]),
)
def test_image_bytes_and_file_names_never_crash_nor_write_outside(
    cut: int, flips: list[tuple[int, int]], name: str, fmt: str
) -> None:
    import io
    import json

    from PIL import Image

    from leukodet import api

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        write_image(root / "a.png", 48, 40)
        buf = io.BytesIO()
        Image.new("RGB", (48, 40), (200, 90, 120)).save(buf, format=fmt)
        (root / "b.png").write_bytes(_mutated(buf.getvalue(), cut, flips))
        images = [{"id": 1, "file_name": "a.png", "width": 48, "height": 40}]
        images.append({"id": 2, "file_name": name, "width": 48, "height": 40})
        anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [4, 4, 10, 10]} for i in (1, 2)]
        coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "WBC"}]}
        (root / "train.json").write_text(json.dumps(coco))
        (root / "data.yaml").write_text("names: [WBC]\ntrain: train.json\n")
        before = sorted(p for p in Path(tmp).rglob("*"))
        for strict in (False, True):
            try:
                api.stats(root / "data.yaml", strict=strict)
            except DataError as exc:
                assert "\n" not in str(exc) and str(root) in str(exc)
        out = Path(tmp) / "out"
        try:
            api.convert(root / "data.yaml", out, "coco")
        except DataError as exc:
            assert "\n" not in str(exc)
        after = sorted(p for p in Path(tmp).rglob("*") if out not in p.parents and p != out)
        assert after == before  # nothing written outside the output folder
        copied = [p.name for p in (out / "images").rglob("*") if p.is_file()] if out.exists() else []
        assert not {"passwd", "hosts"} & set(copied)
