"""Co-mining (Table 7 comparator): co-generation, merging with the ground truth, cross supervision, a short run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from leukodet import api
from leukodet.comparator_config import CoMiningConfig
from leukodet.config import LossConfig, load_config
from leukodet.data.sample import Batch
from leukodet.engine.ablation import VARIANTS
from leukodet.engine.hooks import sparse_activity
from leukodet.losses.comining import CoMiningObjective, cogenerate, merge_ground_truth
from leukodet.losses.criterion import DetectionCriterion
from leukodet.model.output import DetectorOutput


def _decoded(rows: list[tuple[float, float, float, float, float, list[float]]]) -> Tensor:
    """One image's decoded rows (cx, cy, w, h, objectness, class probabilities)."""
    return torch.tensor([[cx, cy, w, h, obj, *cls] for cx, cy, w, h, obj, cls in rows])


def test_cogeneration_thresholds_then_class_wise_nms_then_caps() -> None:
    image0 = _decoded(
        [
            (20, 20, 10, 10, 1.0, [0.9, 0.0]),  # class 0, 0.9: kept
            (21, 20, 10, 10, 1.0, [0.8, 0.0]),  # class 0 over the first (IoU 0.82): suppressed
            (21, 21, 10, 10, 1.0, [0.0, 0.7]),  # class 1 at the same place: another class, kept
            (50, 50, 10, 10, 1.0, [0.55, 0.0]),  # 0.55 < 0.6: not a pseudo-label
        ]
    )
    image1 = _decoded(
        [
            (40, 40, 10, 10, 0.8, [0.9, 0.0]),  # 0.8 × 0.9 = 0.72: kept
            (60, 10, 8, 8, 0.1, [0.9, 0.9]),  # 0.09 for both classes: not
            (5, 5, 4, 4, 0.0, [1.0, 1.0]),  # no objectness: not
            (9, 9, 4, 4, 0.0, [1.0, 1.0]),
        ]
    )
    rows = cogenerate(torch.stack([image0, image1]), 0.6, 0.5, 100)
    assert rows[:, :2].tolist() == [[0, 0], [0, 1], [1, 0]]
    assert torch.allclose(rows[0, 2:6], torch.tensor([15.0, 15, 25, 25]))
    assert rows[:, 6].tolist() == pytest.approx([0.9, 0.7, 0.72])
    capped = cogenerate(torch.stack([image0, image1]), 0.6, 0.5, max_det=1)
    assert capped[:, :2].tolist() == [[0, 0], [1, 0]]  # the best of each image
    clipped = cogenerate(image1[None, :1], 0.6, 0.5, 100, image_size=(42, 42))
    assert clipped[0, 2:6].tolist() == [35.0, 35.0, 42.0, 42.0]
    assert cogenerate(torch.zeros(2, 5, 7), 0.6, 0.5, 100).shape == (0, 7)


def test_merge_adds_only_pseudo_labels_that_are_not_ground_truth() -> None:
    gt = torch.tensor([[0, 0, 10.0, 10.0, 30.0, 30.0]])
    pseudo = torch.tensor(
        [
            [0, 0, 11.0, 11.0, 31.0, 31.0, 0.9],  # the ground-truth box again (IoU 0.82 > 0.4): dropped
            [0, 1, 11.0, 11.0, 31.0, 31.0, 0.8],  # same place, another class: kept
            [1, 0, 10.0, 10.0, 30.0, 30.0, 0.8],  # same box, another image: kept
            [0, 0, 25.0, 25.0, 45.0, 45.0, 0.7],  # same class, IoU 0.14: kept
        ]
    )
    merged, kept = merge_ground_truth(gt, pseudo, 0.4)
    assert kept.tolist() == [False, True, True, True]
    assert torch.equal(merged[0], gt[0]) and torch.equal(merged[1:], pseudo[1:, :6])
    same, none = merge_ground_truth(gt, pseudo[:0], 0.4)
    assert torch.equal(same, gt) and len(none) == 0
    alone, _ = merge_ground_truth(gt[:0], pseudo, 0.4)
    assert len(alone) == 4


class _TwoBranches(nn.Module):
    """A stand-in detector (one 4 × 4 level, stride 16, one 16 × 16 anchor, 2 classes) that ignores its input:
    the original images (first half of the batch) are sure of class 0 on cell (1, 1), their views of class 1
    on cell (2, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.levels = nn.Parameter(torch.zeros(2, 1, 1, 4, 4, 7))
        with torch.no_grad():
            self.levels[..., 4:] = -9.0
            self.levels[0, :, :, 1, 1, 4] = self.levels[0, :, :, 1, 1, 5] = 9.0
            self.levels[1, :, :, 2, 2, 4] = self.levels[1, :, :, 2, 2, 6] = 9.0

    def forward(self, images: Tensor, attribute_boxes: object = None) -> DetectorOutput:
        half = images.shape[0] // 2
        level = torch.cat(
            [self.levels[0].expand(half, -1, -1, -1, -1), self.levels[1].expand(half, -1, -1, -1, -1)]
        )
        return DetectorOutput([level], (16,), torch.tensor([[[16.0, 16.0]]]))


class _Recorder(DetectionCriterion):
    """The criterion, remembering the targets of every call."""

    def __init__(self) -> None:
        super().__init__(LossConfig(), 2, 64)
        self.seen: list[Tensor] = []

    def __call__(self, levels, anchors, strides, targets, *rest):  # type: ignore[no-untyped-def]
        self.seen.append(targets.clone())
        return super().__call__(levels, anchors, strides, targets, *rest)


def _batch() -> Batch:
    targets = torch.tensor([[0, 0, 40.0, 0.0, 56.0, 16.0]])  # one labelled cell, class 0
    return Batch(torch.rand(1, 3, 64, 64), targets, torch.zeros((1, 0), dtype=torch.long), [None], ["a"],
                 [(64, 64)], [1.0], [(0.0, 0.0)])  # fmt: skip


@pytest.mark.parametrize("flip", [False, True])
def test_each_branch_is_supervised_by_the_other_branchs_pseudo_labels(flip: bool) -> None:
    crit, batch = _Recorder(), _batch()
    cell_11 = torch.tensor([16.0, 16.0, 32.0, 32.0])  # the image branch's detection (class 0)
    cell_22 = torch.tensor([32.0, 32.0, 48.0, 48.0])  # the view branch's detection (class 1)
    total, terms = CoMiningObjective(crit, CoMiningConfig(flip=flip))(_TwoBranches(), batch, 0.5)
    to_image, to_view = crit.seen
    mirror = torch.tensor([64.0, 0, 64, 0]) * (1 if flip else 0)
    sign = torch.tensor([-1.0, 1, -1, 1]) if flip else torch.ones(4)
    # the image branch: the ground truth, then the view's detection (class 1), back in the image's frame
    assert torch.equal(to_image[0], batch.targets[0]) and len(to_image) == 2 and to_image[1, 1] == 1
    assert torch.allclose(to_image[1, 2:6], (mirror + sign * cell_22)[[2, 1, 0, 3]] if flip else cell_22)
    # the view branch: the ground truth (in the view's frame), then the image's detection (class 0)
    assert len(to_view) == 2 and to_view[1, 1] == 0
    assert torch.allclose(to_view[1, 2:6], (mirror + sign * cell_11)[[2, 1, 0, 3]] if flip else cell_11)
    assert terms["n_cogen_o"] == 1 and terms["n_cogen_a"] == 1 and terms["n_cogen"] == 2
    assert "view_loss_obj" in terms and torch.isfinite(total)


def test_no_pseudo_labels_before_the_burn_in_and_none_that_repeat_the_ground_truth() -> None:
    crit, batch = _Recorder(), _batch()
    _, terms = CoMiningObjective(crit, CoMiningConfig(burn_in=0.5))(_TwoBranches(), batch, 0.4)
    assert all(torch.equal(t, batch.targets) for t in crit.seen) and "n_cogen" not in terms
    crit = _Recorder()
    on_gt = batch.targets.clone()
    on_gt[0, 2:6] = torch.tensor([16.0, 16.0, 32.0, 32.0])  # the image branch finds the labelled cell
    _, terms = CoMiningObjective(crit, CoMiningConfig())(_TwoBranches(), replace(batch, targets=on_gt), 0.5)
    assert len(crit.seen[1]) == 1 and terms["n_cogen_a"] == 0 and terms["n_cogen_o"] == 1


def test_config_and_ablation_know_comining() -> None:
    cfg = load_config(None, ["sparse.method=comining", "comining.score_thresh=0.5"])
    assert cfg.comining.score_thresh == 0.5 and CoMiningConfig().gt_iou == 0.4
    with pytest.raises(ValueError, match="comining.max_det"):
        CoMiningConfig(max_det=0)
    assert VARIANTS["comining"] == ("comining", ())


def test_short_run_logs_the_cogenerated_labels_of_each_epoch(tmp_path: Path) -> None:
    data = api.synth(tmp_path / "data", images=6, seed=3, size=128, sparse=0.2, progress=False)
    summary = api.train(
        data, model="test_tiny", epochs=2, imgsz=128, batch=3, out=tmp_path / "run", progress=False,
        overrides=["train.plots=false", "sparse.method=comining", "comining.score_thresh=0.0", "comining.max_det=5"],
    )  # fmt: skip
    header = (tmp_path / "run" / "results.csv").read_text().splitlines()[0]
    assert "train/n_cogen" in header and "train/view_loss_obj" in header
    per_epoch = summary["sparse"]["cogenerated_labels_per_epoch"]
    assert len(per_epoch) == 2 and all(n > 0 for n in per_epoch)
    assert per_epoch[0] <= 2 * 5 * 6  # at most max_det per image and branch


def test_run_summary_counts_cogenerated_labels_per_epoch_and_warns_when_none() -> None:
    rows = [{"train/n_cogen": 1.5}, {"train/n_cogen": 0.25}]
    out = sparse_activity(rows, iters=4, method="comining")
    assert out == {"cogenerated_labels_per_epoch": [6, 1]}
    none = sparse_activity([{"train/n_cogen": 0.0}], iters=4, method="comining")
    assert "co-generation found nothing" in none["note"]
    mined = sparse_activity([{"train/n_mined": ""}, {"train/n_mined": 2.0}], iters=3, method="sparsedet")
    assert mined == {"pseudo_positives_per_epoch": [None, 6]}
    burn_in = sparse_activity([{"train/n_mined": ""}], iters=3, method="sparsedet")
    assert "mining never ran" in burn_in["note"]
