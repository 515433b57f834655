"""Every writable format round-trips what it can hold (within 1e-6 normalised); loss is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from leukodet.records import DataError, Dataset, load_source, write_dataset
from leukodet.records.schema import AttributeSchema

from ..conftest import lld_dataset


def _strip(ds: Dataset, attributes: bool, regions: bool) -> Dataset:
    recs = [
        r.with_(
            cells=tuple(c if attributes else type(c)(c.box, c.class_id, {}) for c in r.cells),
            labeled_regions=r.labeled_regions if regions else None,
        )
        for r in ds.records
    ]
    return Dataset(recs, ds.classes, ds.attributes if attributes else AttributeSchema())


def _assert_same(a: Dataset, b: Dataset) -> None:
    assert a.classes == b.classes
    assert a.attributes == b.attributes
    assert a.splits == b.splits
    for split in a.splits:
        ra, rb = (
            sorted(a.split(split), key=lambda r: r.path.name),
            sorted(b.split(split), key=lambda r: r.path.name),
        )
        assert [r.path.name for r in ra] == [r.path.name for r in rb]
        for x, y in zip(ra, rb):
            assert (x.width, x.height, x.domain) == (y.width, y.height, y.domain)
            assert len(x.cells) == len(y.cells)
            for cx, cy in zip(x.cells, y.cells):
                assert cx.class_id == cy.class_id
                assert dict(cx.attributes) == dict(cy.attributes)
                for vx, vy, size in zip(cx.box, cy.box, (x.width, x.height) * 2):
                    assert abs(vx - vy) / size < 1e-6
            assert (x.labeled_regions is None) == (y.labeled_regions is None)
            if x.labeled_regions is not None:
                assert len(x.labeled_regions) == len(y.labeled_regions)
                for rx, ry in zip(x.labeled_regions, y.labeled_regions):
                    assert all(abs(p - q) / x.width < 1e-6 for p, q in zip(rx, ry))


@pytest.mark.parametrize(
    ("fmt", "attributes", "regions"),
    [
        ("coco", True, True),
        ("lld16", True, True),
        ("lld12", True, False),
        ("yolo", False, False),
        ("voc", False, False),
    ],
)
def test_round_trip(tmp_path: Path, fmt: str, attributes: bool, regions: bool) -> None:
    ds = _strip(lld_dataset(tmp_path), attributes, regions)
    yaml_path = write_dataset(ds, tmp_path / fmt, fmt)
    back, diag = load_source(yaml_path)
    assert diag.problems == []
    _assert_same(ds, back)
    # a second conversion of the re-read data is byte-identical (stable writer)
    again = write_dataset(back, tmp_path / f"{fmt}-2", fmt)
    for f in sorted(p for p in (tmp_path / fmt).rglob("*") if p.is_file()):
        assert f.read_bytes() == (again.parent / f.relative_to(tmp_path / fmt)).read_bytes(), f


@pytest.mark.parametrize(
    ("fmt", "lost"), [("yolo", "attributes"), ("voc", "labelled regions"), ("lld12", "regions")]
)
def test_lossy_conversion_refused_unless_allowed(tmp_path: Path, fmt: str, lost: str) -> None:
    ds = lld_dataset(tmp_path)
    with pytest.raises(DataError, match=lost):
        write_dataset(ds, tmp_path / "out", fmt)
    assert not (tmp_path / "out" / "data.yaml").exists()
    write_dataset(ds, tmp_path / "out", fmt, allow_loss=True)
    assert (tmp_path / "out" / "data.yaml").is_file()


def test_per_image_domains_need_coco(tmp_path: Path) -> None:
    ds = lld_dataset(tmp_path, with_regions=False)
    from leukodet.records import Domain

    ds.records[0] = ds.records[0].with_(domain=Domain("LCM", "40x", "C1"))
    with pytest.raises(DataError, match="per-image domains"):
        write_dataset(ds, tmp_path / "o", "lld12")
    back, _ = load_source(write_dataset(ds, tmp_path / "c", "coco"))
    assert {r.domain.name for r in back.records} == {"HCM_100x_C2", "LCM_40x_C1"}


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_dataset_without_splits_reads_back_as_all(tmp_path: Path, fmt: str) -> None:
    """A source without splits is one split ``all``; ``convert`` writes it so, and the YAML must read back."""
    ds = lld_dataset(tmp_path / "src")
    single = Dataset([r.with_(split="all") for r in ds.records], ds.classes, AttributeSchema())
    single = _strip(single, attributes=False, regions=False)
    write_dataset(single, tmp_path / "out", fmt)
    back, _ = load_source(tmp_path / "out" / "data.yaml")
    assert back.splits == ["all"] and len(back.split("all")) == len(single.records)
    _assert_same(single, back)
