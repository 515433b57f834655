"""SparseDet (Table 7 comparator): the view, pseudo-positive mining, the consistency loss, the step, a short run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leukodet import api
from leukodet.comparator_config import SparseDetConfig
from leukodet.config import LossConfig, load_config
from leukodet.data.sample import Batch
from leukodet.engine.ablation import VARIANTS, _method_overrides
from leukodet.losses.criterion import DetectionCriterion
from leukodet.losses.sparsedet import (
    SparseDetObjective,
    labelled_cells,
    loss_consistency,
    mine_pseudo_positives,
)
from leukodet.losses.two_view import branch_loss, mirror_boxes, mirror_cells, photometric_view
from leukodet.model.output import DetectorOutput
from leukodet.model.registry import create_model


def _logit(p: float) -> float:
    return float(torch.logit(torch.tensor(p)))


def _level(obj: dict[tuple[int, int, int], float], b: int = 2, size: int = 4, nc: int = 2) -> torch.Tensor:
    """One level ``[b, 1, size, size, 5 + nc]``: box logits 0 (a cell's box is its anchor, centred on the
    cell), objectness probability 0.01 except ``obj[(image, gy, gx)]``."""
    lv = torch.zeros(b, 1, size, size, 5 + nc)
    lv[..., 4] = _logit(0.01)
    for (i, gy, gx), p in obj.items():
        lv[i, 0, gy, gx, 4] = _logit(p)
    return lv


def test_consistency_is_zero_for_identical_features_and_pulls_the_views_together() -> None:
    orig = [torch.randn(3, 4), torch.randn(2, 8)]
    assert loss_consistency(orig, [f.clone() for f in orig]).item() == 0.0
    assert loss_consistency([torch.zeros(0, 4)], [torch.zeros(0, 4)]).item() == 0.0  # nothing mined
    o = [f.clone().requires_grad_() for f in orig]
    v = [(f + 0.5).requires_grad_() for f in orig]
    loss = loss_consistency(o, v)
    assert loss.item() == pytest.approx(0.25)  # mean of 0.5² over every box and channel
    loss.backward()
    n = sum(f.numel() for f in orig)
    for a, b in zip(o, v):  # d/dv = 2 (v − o) / n > 0: a descent step moves v down to o, and o up to v
        assert torch.allclose(b.grad, torch.full_like(b, 2 * 0.5 / n))
        assert torch.allclose(a.grad, -b.grad)


def test_mining_picks_exactly_the_unlabelled_high_objectness_cells() -> None:
    lv = _level({(0, 0, 0): 0.95, (0, 1, 2): 0.95, (0, 3, 3): 0.95, (0, 2, 0): 0.79, (1, 1, 2): 0.9})
    anchors = torch.tensor([[[8.0, 8.0]]])  # cell (gy, gx) predicts [8gx, 8gy, 8gx + 8, 8gy + 8]
    gt = torch.tensor([[0, 0, 16.0, 8.0, 24.0, 16.0]])  # image 0, on cell (1, 2)'s box: labelled
    labelled = [torch.zeros(2, 1, 4, 4, dtype=torch.bool)]
    labelled[0][0, 0, 3, 3] = True  # a cell the ground truth is assigned to
    mined = mine_pseudo_positives([lv], anchors, [8], gt, labelled, obj_thresh=0.8, gt_iou=0.2)
    got = {tuple(int(x) for x in i) for i in mined.cells[0].nonzero()}
    # (0,0,0) mined; (0,1,2) overlaps the ground truth; (0,3,3) is labelled; (0,2,0) scores 0.79 < 0.8;
    # (1,1,2): the ground-truth box lies in image 0, not image 1
    assert got == {(0, 0, 0, 0), (1, 0, 1, 2)}
    rows = mined.rows[mined.rows[:, 0].argsort()]
    assert torch.allclose(rows[:, 2:6], torch.tensor([[0.0, 0, 8, 8], [16.0, 8, 24, 16]]))
    assert rows[:, 1].tolist() == [0.0, 0.0] and rows[:, 6].tolist() == pytest.approx([0.95, 0.9])


def test_nms_thins_the_pseudo_positives_but_every_mined_cell_leaves_the_background() -> None:
    lv = _level({(0, 0, 0): 0.9, (0, 0, 1): 0.95}, b=1)
    anchors = torch.tensor([[[16.0, 16.0]]])  # neighbouring boxes overlap with IoU 1/3 > 0.3
    none = [torch.zeros(1, 1, 4, 4, dtype=torch.bool)]
    mined = mine_pseudo_positives([lv], anchors, [8], torch.zeros(0, 6), none, 0.8, 0.2, nms_iou=0.3)
    assert int(mined.cells[0].sum()) == 2 and len(mined.rows) == 1 and mined.rows[0, 6] == pytest.approx(0.95)
    # weights 0 at mined cells: their objectness gets no background gradient, other cells still do
    lv = lv.clone().requires_grad_()
    out = DetectorOutput([lv], (8,), anchors)
    crit = DetectionCriterion(LossConfig(), 2, 64)
    weights = [(~m).float() for m in mined.cells]
    branch_loss(out, crit, torch.zeros(0, 6), weights)[0].backward()
    assert lv.grad[0, 0, 0, 0, 4] == 0 and lv.grad[0, 0, 0, 1, 4] == 0 and lv.grad[0, 0, 2, 2, 4] > 0


def test_labelled_cells_are_the_assigned_ones() -> None:
    lv = _level({}, b=1, size=8)
    crit = DetectionCriterion(LossConfig(), 2, 64)
    anchors = torch.tensor([[[8.0, 8.0]]])
    gt = torch.tensor([[0, 1, 20.0, 22.0, 28.0, 30.0]])  # centre (24, 26) px = (3.0, 3.25) cells
    assigned = crit.assign([lv], anchors, torch.tensor([8]), gt)
    mask = labelled_cells([lv], assigned)[0]
    got = {tuple(int(x) for x in i) for i in mask.nonzero()}
    assert got == {(0, 0, 3, 3), (0, 0, 3, 2), (0, 0, 2, 3)}  # its cell, the left and the upper neighbour


def test_view_jitters_colours_within_range_and_mirrors_exactly() -> None:
    images = torch.rand(3, 3, 16, 16)
    assert torch.equal(photometric_view(images), images)  # nothing asked: the same images
    assert torch.equal(photometric_view(images, 0.5, 0.5, 0.5, 0.1, p=0.0), images)  # never applied
    gen = torch.Generator().manual_seed(0)
    view = photometric_view(images, 0.5, 0.5, 0.5, 0.1, generator=gen)
    assert view.shape == images.shape and 0 <= view.min() and view.max() <= 1
    assert not torch.allclose(view, images)
    boxes = torch.tensor([[2.0, 3.0, 10.0, 7.0]])
    assert torch.equal(mirror_boxes(boxes, 64), torch.tensor([[54.0, 3.0, 62.0, 7.0]]))
    assert torch.equal(mirror_boxes(mirror_boxes(boxes, 64), 64), boxes)
    cells = torch.zeros(1, 1, 2, 4, dtype=torch.bool)
    cells[0, 0, 1, 0] = True
    assert mirror_cells([cells])[0][0, 0, 1, 3]


def _batch() -> Batch:
    torch.manual_seed(0)
    targets = torch.tensor([[0, 1, 10.0, 10.0, 30.0, 30.0], [1, 0, 20.0, 5.0, 50.0, 40.0]])
    return Batch(torch.rand(2, 3, 64, 64), targets, torch.zeros((2, 0), dtype=torch.long), [None, None],
                 ["a", "b"], [(64, 64)] * 2, [1.0] * 2, [(0.0, 0.0)] * 2)  # fmt: skip


def test_step_schedule_and_an_unjittered_view_is_consistent() -> None:
    model = create_model("test_tiny", 2).train()
    crit = DetectionCriterion(LossConfig(), 2, 64)
    batch = _batch()
    plain = SparseDetConfig(obj_thresh=0.0, brightness=0.0, contrast=0.0, saturation=0.0)
    _, early = SparseDetObjective(crit, plain)(model, batch, 0.2)  # inside the burn-in (0.5): no mining
    assert "n_mined" not in early and "loss_ssl" not in early and "view_loss_obj" in early
    total, terms = SparseDetObjective(crit, plain)(model, batch, 0.6)
    assert terms["n_mined"] > 0 and terms["n_mined_cells"] >= terms["n_mined"]
    assert terms["loss_ssl"].item() == pytest.approx(0.0, abs=1e-6)  # same image twice: same features
    jittered = SparseDetConfig(obj_thresh=0.0, flip=True)
    total, terms = SparseDetObjective(crit, jittered)(model, batch, 0.6)
    assert terms["loss_ssl"] > 0 and torch.isfinite(total)
    total.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_config_and_ablation_know_sparsedet() -> None:
    cfg = load_config(None, ["sparse.method=sparsedet", "sparsedet.obj_thresh=0.7"])
    assert cfg.sparsedet.obj_thresh == 0.7 and SparseDetConfig().ssl_gain == 1.0
    with pytest.raises(ValueError, match="sparsedet.burn_in"):
        SparseDetConfig(burn_in=1.5)
    assert VARIANTS["sparsedet"] == ("sparsedet", ())
    assert "sparse.method=sparsedet" in _method_overrides("sparsedet", False, None)


def test_short_run_logs_the_pseudo_positives_of_each_epoch(tmp_path: Path) -> None:
    data = api.synth(tmp_path / "data", images=6, seed=3, size=128, sparse=0.2, progress=False)
    summary = api.train(
        data, model="test_tiny", epochs=2, imgsz=128, batch=3, out=tmp_path / "run", progress=False,
        overrides=["train.plots=false", "sparse.method=sparsedet", "sparsedet.obj_thresh=0.0",
                   "sparsedet.burn_in=0.5"],
    )  # fmt: skip
    header = (tmp_path / "run" / "results.csv").read_text().splitlines()[0]
    assert "train/n_mined" in header and "train/loss_ssl" in header and "train/view_loss_obj" in header
    per_epoch = summary["sparse"]["pseudo_positives_per_epoch"]
    assert per_epoch[0] is None and per_epoch[1] > 0  # epoch 1 is the burn-in, epoch 2 mines
    assert "note" not in summary["sparse"]
