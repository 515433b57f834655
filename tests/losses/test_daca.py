"""DACA's steps on constructed inputs: the pseudo-label threshold, the flips, the composition of target versions and
source pieces, the tile plan, the config checks and one objective step with a scripted detector."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
import torch

from leukodet.comparator_config import DACAConfig
from leukodet.config import AdaptConfig, ConfigError, RunConfig, apply_overrides
from leukodet.losses.confmix import region_boxes, region_confidence
from leukodet.losses.daca_compose import (
    FLIP_MODES,
    augmented_versions,
    compose,
    flip_rows,
    region_pseudo_labels,
    source_piece,
    tile_plan,
)

NO_JITTER = DACAConfig(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)


def test_threshold_and_region_pick_exactly_the_expected_detections() -> None:
    cells = region_boxes((100, 100), 2)
    boxes = torch.tensor(
        [
            [10.0, 10, 20, 20],  # cell 0, 0.9: kept
            [30, 30, 40, 40],  # cell 0, 0.5: exactly the threshold, kept
            [5, 5, 15, 15],  # cell 0, 0.49: below the threshold
            [40, 40, 70, 60],  # centre (55, 50): cell 3 (left/top edges inclusive), not the chosen one
            [60, 10, 80, 30],  # cell 1, 0.3
        ]
    )
    scores = torch.tensor([0.9, 0.5, 0.49, 0.95, 0.3])
    labels = torch.tensor([1, 2, 3, 4, 5])
    conf = region_confidence(boxes, scores, cells)
    assert conf.tolist() == pytest.approx([(0.9 + 0.5 + 0.49) / 3, 0.3, 0.0, 0.95])
    rows = region_pseudo_labels(boxes, scores, labels, cells[0], pl_conf=0.5)
    assert rows.tolist() == [[1, 10, 10, 20, 20], [2, 30, 30, 40, 40]]
    # the best region is cell 3: its one box is clipped to the cell and given in the crop's pixels
    rows = region_pseudo_labels(boxes, scores, labels, cells[int(conf.argmax())], pl_conf=0.5)
    assert rows.tolist() == [[4, 0, 0, 20, 10]]


def test_flip_rows_known_boxes() -> None:
    rows = torch.tensor([[7.0, 1, 2, 4, 6]])  # in a 10 (h) × 20 (w) piece
    assert flip_rows(rows, (10, 20), "none").tolist() == [[7, 1, 2, 4, 6]]
    assert flip_rows(rows, (10, 20), "h").tolist() == [[7, 16, 2, 19, 6]]
    assert flip_rows(rows, (10, 20), "v").tolist() == [[7, 1, 4, 4, 8]]
    assert flip_rows(rows, (10, 20), "hv").tolist() == [[7, 16, 4, 19, 8]]
    with pytest.raises(ValueError, match="flip mode"):
        flip_rows(rows, (10, 20), "diag")


def test_versions_mirror_pixels_and_boxes_together() -> None:
    crop = torch.zeros(3, 4, 6)
    crop[:, 0, 0] = 1.0  # one marked pixel in the top-left corner, inside the box
    rows = torch.tensor([[0.0, 0, 0, 2, 1]])
    versions = augmented_versions(crop, rows, 4, NO_JITTER)
    corners = [(0, 0), (0, 5), (3, 0), (3, 5)]  # where the marked pixel goes for none, h, v, hv
    for (image, r), (y, x), mode in zip(versions, corners, FLIP_MODES):
        assert image.shape == crop.shape and image.sum() == 3 and image[0, y, x] == 1, mode
        x1, y1, x2, y2 = r[0, 1:].tolist()
        assert x1 <= x < x2 and y1 <= y < y2, mode  # the box still covers the marked pixel
    plain = augmented_versions(crop, rows, 3, replace(NO_JITTER, flips=False))
    assert all(torch.equal(im, crop) and torch.equal(r, rows) for im, r in plain)


def test_jitter_changes_colours_not_boxes() -> None:
    gen = torch.Generator().manual_seed(0)
    crop, rows = torch.full((3, 4, 4), 0.5), torch.tensor([[1.0, 0, 0, 2, 2]])
    versions = augmented_versions(crop, rows, 4, replace(DACAConfig(), flips=False), gen)
    assert any(not torch.allclose(im, crop) for im, _ in versions)
    assert all(torch.equal(r, rows) for _, r in versions)


def test_compose_places_every_piece_and_its_boxes_in_its_tile() -> None:
    cells = region_boxes((8, 8), 2)  # tiles (0,0)-(4,4), (4,0)-(8,4), (0,4)-(4,8), (4,4)-(8,8)
    pieces = [(torch.full((3, 4, 4), float(k + 1)), torch.tensor([[float(k), 1, 1, 3, 2]])) for k in range(4)]
    canvas, rows = compose(pieces, cells, (8, 8))
    assert canvas[0, :4, :4].eq(1).all() and canvas[0, :4, 4:].eq(2).all()
    assert canvas[0, 4:, :4].eq(3).all() and canvas[0, 4:, 4:].eq(4).all()
    assert rows.tolist() == [[0, 1, 1, 3, 2], [1, 5, 1, 7, 2], [2, 1, 5, 3, 6], [3, 5, 5, 7, 6]]


def test_compose_resizes_a_piece_of_another_size() -> None:
    cells = torch.tensor([[0.0, 0, 4, 4], [4, 0, 8, 4]])
    pieces = [
        (torch.ones(3, 2, 2), torch.tensor([[0.0, 0, 0, 1, 1]])),
        (torch.ones(3, 4, 4), torch.zeros(0, 5)),
    ]
    canvas, rows = compose(pieces, cells, (4, 8))
    assert canvas.eq(1).all() and rows.tolist() == [[0, 0, 0, 2, 2]]
    with pytest.raises(ValueError, match="pieces"):
        compose(pieces[:1], cells, (4, 8))


def test_source_piece_keeps_the_boxes_centred_in_it() -> None:
    image = torch.arange(64.0).view(1, 8, 8).expand(3, 8, 8)
    targets = torch.tensor(
        [
            [0, 1, 5, 1, 7, 3],  # centre (6, 2): in the top-right tile
            [0, 2, 3, 1, 6, 3],  # centre (4.5, 2): in it too, clipped at x = 4
            [0, 3, 1, 1, 3, 3],  # centre (2, 2): top-left, left out
        ],
        dtype=torch.float32,
    )
    piece, rows = source_piece(image, targets, torch.tensor([4.0, 0, 8, 4]))
    assert torch.equal(piece, image[:, :4, 4:])
    assert rows.tolist() == [[1, 1, 1, 3, 3], [2, 0, 1, 2, 3]]


def test_tile_plan_draws_the_requested_number_of_source_tiles() -> None:
    gen = torch.Generator().manual_seed(0)
    assert tile_plan(4, 0, gen) == [False] * 4
    plans = [tile_plan(4, 2, gen) for _ in range(20)]
    assert all(sum(p) == 2 for p in plans) and len({tuple(p) for p in plans}) > 1


def test_config_defaults_and_errors() -> None:
    cfg = RunConfig().daca
    assert (cfg.grid, cfg.pl_conf, cfg.source_tiles, cfg.gain) == (2, 0.5, 0, 1.0)
    run = apply_overrides(
        RunConfig(), {"adapt.method": "daca", "adapt.target_data": "t.yaml", "daca.grid": 3}
    )
    assert run.adapt.method == "daca" and run.daca.grid == 3
    with pytest.raises(ValueError, match="daca.source_tiles"):
        DACAConfig(source_tiles=4)
    with pytest.raises(ValueError, match="daca.pl_conf"):
        DACAConfig(pl_conf=1.5)
    with pytest.raises(ConfigError, match="--adapt daca needs --target-data"):
        AdaptConfig(method="daca")
    with pytest.raises(ConfigError, match="one of none, confmix, daca"):
        AdaptConfig(method="mixup", target_data="t.yaml")


@dataclass
class _Dets:
    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


def test_objective_composes_the_confident_region_of_each_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """One composite from a scripted detection: the four versions of the chosen quarter, labelled with its
    confident detection in each tile; a source tile brings the source boxes of its place."""
    from leukodet.data.sample import Batch
    from leukodet.losses import confmix_objective, daca

    dets = _Dets(
        torch.tensor([[36.0, 40, 56, 48], [4, 4, 8, 8]]), torch.tensor([0.9, 0.3]), torch.tensor([1, 0])
    )
    monkeypatch.setattr(daca, "postprocess_decoded", lambda *a, **k: [dets])
    monkeypatch.setattr(confmix_objective, "decode_boxes", lambda out: out)

    class Net(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> object:
            return type("Out", (), {"class_parents": ()})()

    target = torch.rand(1, 3, 64, 64)
    source = Batch(torch.zeros(1, 3, 64, 64), torch.tensor([[0.0, 2, 8, 8, 16, 16]]), torch.zeros(1, 0),
                   [None], ["s"], [(64, 64)], [1.0], [(0.0, 0.0)])  # fmt: skip
    obj = daca.DACAObjective(None, AdaptConfig(), NO_JITTER, lambda n, d: target)  # type: ignore[arg-type]
    chosen, stats = obj.detect(Net(), target)
    assert chosen[0][0].tolist() == [32, 32, 64, 64] and chosen[0][1].tolist() == [[1, 4, 8, 24, 16]]
    assert float(stats["n_pseudo"]) == 1 and float(stats["region_conf"]) == pytest.approx(0.9)
    images, rows, n = obj.compose_batch(source, target, chosen)
    assert n == 4 and images.shape == (1, 3, 64, 64)
    assert torch.equal(images[0, :, :32, :32], target[0, :, 32:, 32:])  # version 0: the crop as it is
    assert torch.equal(images[0, :, :32, 32:], target[0, :, 32:, 32:].flip(-1))  # version 1: mirrored
    assert torch.equal(images[0, :, 32:, 32:], target[0, :, 32:, 32:].flip([-1, -2]))  # version 3: turned
    assert rows.tolist() == [
        [0, 1, 4, 8, 24, 16],
        [0, 1, 40, 8, 60, 16],
        [0, 1, 4, 48, 24, 56],
        [0, 1, 40, 48, 60, 56],
    ]
    monkeypatch.setattr(daca, "tile_plan", lambda n, k, gen=None: [True, False, True, True])
    obj.cfg = replace(NO_JITTER, source_tiles=3)
    images, rows, n = obj.compose_batch(source, target, chosen)
    assert n == 1 and rows.tolist() == [
        [0, 2, 8, 8, 16, 16],
        [0, 1, 40, 8, 60, 16],
    ]  # source box at its place
    assert images[0, :, :32, :32].eq(0).all() and images[0, :, 32:].eq(0).all()  # the source pieces
