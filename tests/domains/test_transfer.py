"""Annotation transfer in memory: known homographies recovered on synthetic and real fields, unreliable pairs
refused, boxes leaving the target dropped and listed, labelled regions mapped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from leukodet.domains.homography import (
    Estimate,
    EstimateParams,
    centre_to_edge,
    local_similarity,
    ratio_matches,
    reliability_problem,
)
from leukodet.domains.images import read_rgb
from leukodet.domains.known import box_errors, known_homography, warp
from leukodet.domains.labels import ImageLabels, read_image_labels
from leukodet.domains.mapping import inscribed_box, map_box, map_points
from leukodet.domains.transfer import transfer_labels
from leukodet.records import AttributeSchema, Cell, ImageRecord
from leukodet.synth import render_field
from leukodet.synth.domains import degrade, domain_params

from ..conftest import shared_data

SIZE = 800
MAX_BOX_ERROR_PX = 2.0


@pytest.fixture(scope="module")
def field() -> tuple[np.ndarray, list[Cell]]:
    f = render_field(3, "HCM_100x_C2", SIZE)
    return f.image, f.cells


def _labels(image_path: Path, width: int, height: int, cells: list[Cell], regions=None) -> ImageLabels:
    rec = ImageRecord(image_path, width, height, "all", tuple(cells), regions)
    return ImageLabels(rec, [str(i) for i in range(16)], AttributeSchema(), "yolo", "test")


@pytest.mark.parametrize(
    "scale,rotation,shift,perspective",
    [
        (1.0, 5.0, (20.0, -15.0), (0.0, 0.0)),
        (0.8, -12.0, (30.0, 10.0), (1e-4, -5e-5)),
        (1.3, 20.0, (-40.0, 25.0), (5e-5, 5e-5)),
    ],
)
def test_known_homography_recovered_on_synthetic_fields(field, scale, rotation, shift, perspective) -> None:
    image, cells = field
    h = known_homography(SIZE, SIZE, scale, rotation, shift, perspective)
    res = transfer_labels(image, warp(image, h), _labels(Path("s.png"), SIZE, SIZE, cells), Path("t.png"))
    assert res.accepted, res.problem
    assert res.estimate.inliers >= 100 and res.estimate.rmse_px < 1.5
    errors = box_errors([c.box for c in cells], h, res.estimate.homography, SIZE, SIZE)
    assert len(errors) >= 40
    assert max(errors) <= MAX_BOX_ERROR_PX, max(errors)
    # Every kept box is the true mapping, clipped to the target, within 2 px.
    truth = centre_to_edge(h)
    gone = {d.index for d in res.mapped.dropped_boxes}
    kept = [i for i in range(len(cells)) if i not in gone]
    assert len(kept) == len(res.mapped.record.cells)
    for i, out in zip(kept, res.mapped.record.cells):
        assert np.abs(np.subtract(map_box(cells[i].box, truth, SIZE, SIZE).box, out.box)).max() <= 2.0


def test_known_homography_recovered_on_real_bccd_fields() -> None:
    root = shared_data("bccd", "BCCD")
    worst = []
    for stem, shift in (("BloodImage_00000", (25.0, -10.0)), ("BloodImage_00100", (-30.0, 20.0))):
        image_path = root / "JPEGImages" / f"{stem}.jpg"
        labels = read_image_labels(root / "Annotations" / f"{stem}.xml", image_path)
        image = read_rgb(image_path)
        w, hh = image.shape[1], image.shape[0]
        h = known_homography(w, hh, 0.9, 8.0, shift, (8e-5, -4e-5))
        res = transfer_labels(image, warp(image, h), labels, Path("t.png"))
        assert res.accepted, res.problem
        errors = box_errors([c.box for c in labels.record.cells], h, res.estimate.homography, w, hh)
        assert errors
        worst.append(max(errors))
    assert max(worst) <= MAX_BOX_ERROR_PX, worst


def test_real_lld_field_to_another_microscope_and_camera() -> None:
    """A LeukemiaAttri sample warped, then degraded like a low-cost microscope with a phone camera."""
    image = read_rgb(shared_data("lld-samples", "4_15_1000_ALL.png"))
    w, hh = image.shape[1], image.shape[0]
    h = known_homography(w, hh, 0.85, -6.0, (15.0, 20.0), (-6e-5, 4e-5))
    rng = np.random.default_rng(0)
    target = degrade(warp(image, h).astype(np.float32), domain_params("LCM_100x_C1"), rng)
    grid = [
        (float(x), float(y), x + 50.0, y + 60.0)
        for x in range(40, w - 100, 90)
        for y in range(40, hh - 100, 90)
    ]
    cells = [Cell(b, 0) for b in grid]
    res = transfer_labels(image, target, _labels(Path("s.png"), w, hh, cells), Path("t.png"))
    assert res.accepted, res.problem
    errors = box_errors(grid, h, res.estimate.homography, w, hh)
    assert len(errors) >= 20 and max(errors) <= MAX_BOX_ERROR_PX, max(errors)


def test_unrelated_and_blank_pairs_are_refused(field) -> None:
    image, cells = field
    labels = _labels(Path("s.png"), SIZE, SIZE, cells)
    other = render_field(11, "HCM_100x_C2", SIZE).image
    blank = np.full_like(image, 200)
    for target in (other, blank):
        res = transfer_labels(image, target, labels, Path("t.png"))
        assert not res.accepted and res.mapped is None and res.target_labels is None
        assert "inliers" in res.problem
    bccd = shared_data("bccd", "BCCD", "JPEGImages")
    a, b = read_rgb(bccd / "BloodImage_00000.jpg"), read_rgb(bccd / "BloodImage_00001.jpg")
    res = transfer_labels(a, b, _labels(Path("s.png"), a.shape[1], a.shape[0], []), Path("t.png"))
    assert not res.accepted


def test_large_reprojection_error_is_refused() -> None:
    est = Estimate(np.eye(3), (500, 500), 200, 150, 3.4, np.zeros((0, 2)), np.zeros((0, 2)))
    assert "RMSE 3.40 px" in reliability_problem(est)
    assert reliability_problem(est, EstimateParams(max_rmse_px=4.0)) is None
    few = Estimate(np.eye(3), (500, 500), 40, 14, 0.5, np.zeros((0, 2)), np.zeros((0, 2)))
    assert "only 14 RANSAC inliers" in reliability_problem(few)


def test_boxes_leaving_the_target_are_dropped_and_listed(field) -> None:
    image, cells = field
    h = known_homography(SIZE, SIZE, 1.0, 3.0, (260.0, 0.0))
    res = transfer_labels(image, warp(image, h), _labels(Path("s.png"), SIZE, SIZE, cells), Path("t.png"))
    assert res.accepted
    truth = centre_to_edge(h)
    dropped = res.mapped.dropped_boxes
    assert len(dropped) >= 5
    for d in dropped:
        true_kept = map_box(cells[d.index].box, truth, SIZE, SIZE).kept_fraction
        assert d.kept_fraction < 0.5 and abs(d.kept_fraction - true_kept) < 0.1
        assert "inside the target" in d.reason and d.to_dict()["kept_fraction"] == round(d.kept_fraction, 4)
    assert len(res.mapped.record.cells) + len(dropped) == len(cells)
    for c in res.mapped.record.cells:
        x1, y1, x2, y2 = c.box
        assert 0 <= x1 < x2 <= SIZE and 0 <= y1 < y2 <= SIZE


def _inside(quad: np.ndarray, box, tol: float) -> bool:
    contour = quad.astype(np.float32).reshape(-1, 1, 2)
    x1, y1, x2, y2 = box
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    return all(cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -tol for x, y in corners)


def test_labelled_regions_are_mapped_inside_their_true_quadrilateral(field) -> None:
    image, cells = field
    region = (150.0, 120.0, 520.0, 480.0)
    h = known_homography(SIZE, SIZE, 0.9, 10.0, (20.0, -20.0), (5e-5, 0.0))
    labels = _labels(Path("s.png"), SIZE, SIZE, cells, (region,))
    res = transfer_labels(image, warp(image, h), labels, Path("t.png"))
    assert res.accepted
    (mapped,) = res.mapped.record.labeled_regions
    x1, y1, x2, y2 = region
    quad = map_points(centre_to_edge(h), np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]))
    assert _inside(quad, mapped, tol=2.0)
    area = (mapped[2] - mapped[0]) * (mapped[3] - mapped[1])
    assert area > 0.6 * cv2.contourArea(quad.astype(np.float32))


def test_fully_labelled_source_becomes_its_footprint_or_stays_full(field) -> None:
    image, cells = field
    labels = _labels(Path("s.png"), SIZE, SIZE, cells, None)
    shifted = known_homography(SIZE, SIZE, 1.0, 0.0, (150.0, 0.0))
    res = transfer_labels(image, warp(image, shifted), labels, Path("t.png"))
    (region,) = res.mapped.record.labeled_regions
    assert abs(region[0] - 150.0) <= 2.0 and region[2] == SIZE and region[1] <= 2 and region[3] >= SIZE - 2
    zoomed = known_homography(SIZE, SIZE, 1.6, 4.0)  # the target shows a part of the source only
    res = transfer_labels(image, warp(image, zoomed), labels, Path("t.png"))
    assert res.accepted and res.mapped.record.labeled_regions is None


def test_inscribed_box_of_a_thin_diagonal_quad_is_inside() -> None:
    quad = np.array([[0.0, 0.0], [10.0, 10.0], [11.0, 9.0], [1.0, -1.0]])
    box = inscribed_box(quad)
    assert _inside(quad, box, tol=1e-3) and box[2] > box[0] and box[3] > box[1]


def test_degenerate_maps_are_refused() -> None:
    mirror = np.array([[-1.0, 0.0, 640.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    collapse = np.diag([1e-4, 1e-4, 1.0])
    for h, words in ((mirror, "mirrors"), (collapse, "local scale")):
        est = Estimate(h, (900, 900), 300, 120, 0.1, np.zeros((0, 2)), np.zeros((0, 2)), (640, 480))
        assert words in reliability_problem(est)


def test_many_to_one_matches_keep_only_the_closest() -> None:
    rng = np.random.default_rng(0)
    b = rng.random((5, 128)).astype(np.float32)
    a = np.stack([b[2] + 0.001, b[2] + 0.002, b[4] + 0.001]).astype(np.float32)
    assert ratio_matches(a, b, 0.75).tolist() == [[0, 2], [2, 4]]


def test_real_overlapping_bccd_fields_are_accepted() -> None:
    """BCCD 00242 and 00249 show overlapping parts of one film (the stage moved): no rotation, scale 1."""
    root = shared_data("bccd", "BCCD")
    source = root / "JPEGImages" / "BloodImage_00242.jpg"
    labels = read_image_labels(root / "Annotations" / "BloodImage_00242.xml", source)
    target = read_rgb(root / "JPEGImages" / "BloodImage_00249.jpg")
    res = transfer_labels(read_rgb(source), target, labels, Path("t.png"))
    assert res.accepted, res.problem
    scale, rotation = local_similarity(res.estimate.homography, (320.0, 240.0))
    assert abs(scale - 1.0) < 0.02 and abs(rotation) < 1.0
    assert res.mapped.record.cells and res.mapped.dropped_boxes
