"""Patch in field: a magnified view (100x-like, scale 2.5, small rotation) found in a wider field within 2 px."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from leukodet.cli import main
from leukodet.domains.homography import EstimateParams, centre_to_edge
from leukodet.domains.images import read_rgb, write_png
from leukodet.domains.locate import locate_patch
from leukodet.domains.mapping import map_points
from leukodet.synth import render_field
from leukodet.synth.domains import CAMERAS, apply_camera

from ..conftest import shared_data

MAGNIFICATION = 2.5
MAX_CORNER_ERROR_PX = 2.0


def _patch_to_field(
    centre: tuple[float, float], rotation_deg: float, patch_size: tuple[int, int]
) -> np.ndarray:
    """Pixel-centre map from patch pixels to the pixels of an image 1/``MAGNIFICATION`` as fine."""
    a = math.radians(rotation_deg)
    s = 1.0 / MAGNIFICATION
    w, h = patch_size
    to_centre = np.array([[1, 0, -(w - 1) / 2], [0, 1, -(h - 1) / 2], [0, 0, 1.0]])
    rot = np.array(
        [[s * math.cos(a), -s * math.sin(a), 0], [s * math.sin(a), s * math.cos(a), 0], [0, 0, 1.0]]
    )
    return np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1.0]]) @ rot @ to_centre


def _corners(w: int, h: int) -> np.ndarray:
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)


def _true_quad(h_centre: np.ndarray, w: int, h: int) -> np.ndarray:
    return map_points(centre_to_edge(h_centre), _corners(w, h))


@pytest.mark.parametrize("seed,rotation", [(0, 4.0), (1, -7.0)])
def test_synthetic_100x_patch_in_40x_field(seed: int, rotation: float) -> None:
    """The field is a 40x rendering shrunk 2.5x; the patch is a rotated crop of the full-resolution rendering
    seen through a phone camera (colour cast, noise, JPEG), so it holds detail the field does not."""
    fine = render_field(seed, "HCM_40x_C2", 1500).image
    field = cv2.resize(fine, (600, 600), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    centre = tuple(rng.uniform(150, 450, 2))
    to_field = _patch_to_field(centre, rotation, (560, 560))
    # Box (pixel-edge) coordinates of the fine rendering are the field's times 2.5; warpPerspective wants centres.
    to_fine = np.diag([MAGNIFICATION, MAGNIFICATION, 1.0]) @ centre_to_edge(to_field)
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    to_fine_centre = np.linalg.inv(half) @ to_fine @ half
    patch = cv2.warpPerspective(
        fine, to_fine_centre, (560, 560), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    patch = apply_camera(patch.astype(np.float32), CAMERAS["C1"], rng)
    place = locate_patch(patch, field)
    assert place.accepted, place.problem
    error = float(np.abs(place.quad - _true_quad(to_field, 560, 560)).max())
    assert error <= MAX_CORNER_ERROR_PX, error
    doc = place.to_dict(EstimateParams())
    assert abs(doc["scale"] - 1 / MAGNIFICATION) < 0.01 and abs(doc["rotation_deg"] - rotation) < 0.5


def test_real_bccd_field_and_a_magnified_view_of_it(tmp_path) -> None:
    field = read_rgb(shared_data("bccd", "BCCD", "JPEGImages", "BloodImage_00020.jpg"))
    to_field = _patch_to_field((330.0, 250.0), 5.0, (600, 450))
    patch = cv2.warpPerspective(field, to_field, (600, 450), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    place = locate_patch(patch, field)
    assert place.accepted, place.problem
    error = float(np.abs(place.quad - _true_quad(to_field, 600, 450)).max())
    assert error <= MAX_CORNER_ERROR_PX, error


def test_locate_cli_prints_and_writes_the_placement(tmp_path) -> None:
    field = read_rgb(shared_data("lld-samples", "4_16_1000_ALL.png"))
    to_field = _patch_to_field((300.0, 340.0), -3.0, (640, 640))
    patch = cv2.warpPerspective(field, to_field, (640, 640), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    write_png(tmp_path / "patch.png", patch)
    write_png(tmp_path / "field.png", field)
    out = tmp_path / "out"
    args = ["locate", "--patch", str(tmp_path / "patch.png"), "--field", str(tmp_path / "field.png")]
    result = CliRunner().invoke(main, [*args, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["accepted"] and sorted(p.name for p in out.iterdir()) == ["locate.json", "locate_overlay.png"]
    assert np.abs(np.array(doc["quad"]) - _true_quad(to_field, 640, 640)).max() <= MAX_CORNER_ERROR_PX
    assert doc["box"] == pytest.approx(
        [
            min(p[0] for p in doc["quad"]),
            min(p[1] for p in doc["quad"]),
            max(p[0] for p in doc["quad"]),
            max(p[1] for p in doc["quad"]),
        ]
    )
    assert abs(doc["scale"] - 0.4) < 0.01 and abs(doc["rotation_deg"] + 3.0) < 0.5
    other = tmp_path / "other.png"
    write_png(other, read_rgb(shared_data("lld-samples", "4_7_1000_ALL.png")))
    refused = CliRunner().invoke(
        main, ["locate", "--patch", str(tmp_path / "patch.png"), "--field", str(other)]
    )
    assert refused.exit_code == 1 and json.loads(refused.stdout)["accepted"] is False
