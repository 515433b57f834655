"""Pseudo-labels that fire (issue #22): the calibrated confidence lets a sure true cell outside the labelled
region through every filter where Eq. (6) as printed refuses it; the per-label objectness normalisation gives that
cell a gradient of tenths (a mean over the pseudo-labels), and ``pl_weighting=gained`` keeps a pseudo-labelled
cell under a labelled one."""

from __future__ import annotations

import math

import pytest
import torch

from leukodet.config import LossConfig
from leukodet.losses.criterion import DetectionCriterion
from leukodet.losses.detection import loss_box
from leukodet.losses.pl_confidence import PrecisionCalibrator, labelled_region_hits, precision_at
from leukodet.losses.sparse import loss_pl, select_pseudo_labels

SHARP = [0.95, 0.001, 0.001]


def _image(rows: list[tuple[float, float, float, float, float, list[float]]]) -> torch.Tensor:
    return torch.tensor([[cx, cy, w, h, obj, *cls] for cx, cy, w, h, obj, cls in rows])


def _field_with_region() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """One 640-px field: 20 true cells of class 0 in the labelled left half, each found at raw confidence
    0.90 × 0.95 = 0.855 (where a converged detector's objectness levels off), one false class-0 detection there
    at 0.45, ten class-1 detections at 0.88 where there is no cell (a class the detector gets wrong), and two
    cells on the unlabelled right: one class 0 found as surely as the labelled ones, one class 1 at 0.90."""
    rows, gt = [], []
    for i in range(20):
        cx, cy = 40.0 + 60 * (i % 4), 40.0 + 60 * (i // 4)
        rows.append((cx, cy, 30, 30, 0.90, SHARP))
        gt.append([0.0, 0.0, cx - 15, cy - 15, cx + 15, cy + 15])
    rows.append((100, 360, 30, 30, 0.50, [0.9, 0.01, 0.01]))  # labelled area, no cell there
    rows += [(40 + 25 * i, 500, 20, 20, 0.92, [0.001, 0.96, 0.001]) for i in range(10)]  # class 1: all wrong
    rows.append((500, 200, 30, 30, 0.91, SHARP))  # the right half: an unlabelled true cell
    rows.append((500, 400, 20, 20, 0.95, [0.001, 0.95, 0.001]))  # the right half: class 1 at 0.90
    regions = [torch.tensor([[0.0, 0.0, 320.0, 640.0]])]
    return _image(rows)[None], regions, torch.tensor(gt)


def test_calibrated_confidence_turns_a_sure_unlabelled_cell_into_a_pseudo_label() -> None:
    decoded, regions, targets = _field_with_region()
    paper = select_pseudo_labels(decoded, regions, targets, area_min=100.0)
    assert paper.counts["pseudo"] == 0  # 0.86 < t1 = 0.95: Eq. (6) as printed never fires here
    calib = PrecisionCalibrator(window=100)
    zero = torch.zeros(1, dtype=torch.long)
    assert calib(torch.tensor([0.99]), zero).item() == 0.0  # nothing measured yet: nothing is sure
    calib.update(decoded, regions, targets)
    conf, hit, cls = labelled_region_hits(decoded, regions, targets)
    assert len(conf) == 31 and int(hit.sum()) == 20 and int((cls == 1).sum()) == 10  # right half not in
    # class 0: 20 of 20 labelled detections at >= 0.855 are right: (20 + 1) / (20 + 2) = 0.955 > t1; the
    # ten wrong class-1 detections, more confident, do not count against class 0
    assert calib(torch.tensor([0.86]), zero).item() == pytest.approx(21 / 22)
    assert calib(torch.tensor([0.45]), zero).item() == pytest.approx(21 / 23)  # the false one, below 0.855
    assert calib(torch.tensor([0.95]), torch.ones(1, dtype=torch.long)).item() == pytest.approx(1 / 12)
    assert calib(torch.tensor([0.95]), torch.full((1,), 2)).item() == 0.0  # a class never seen
    found = select_pseudo_labels(decoded, regions, targets, area_min=100.0, calibrate=calib)
    assert found.targets.tolist() == [[0.0, 0.0, 485.0, 185.0, 515.0, 215.0]]  # class 1's is refused
    assert found.counts["outside"] == 1 and found.counts["pseudo"] == 1  # class 1 fails t0 already
    assert calib.raw_threshold(0.95, 0) == pytest.approx(0.855, abs=1e-3)
    assert math.isnan(calib.raw_threshold(0.95, 1))


def test_calibration_refuses_what_the_labelled_regions_show_is_often_wrong() -> None:
    seen, hit = torch.tensor([0.9, 0.8, 0.7, 0.6]), torch.tensor([True, True, False, False])
    # smoothed precision at each remembered threshold: 2/3, 3/4, 3/5, 3/6; interpolated: 0.75, 0.75, 0.6, 0.5
    got = precision_at(torch.tensor([0.95, 0.85, 0.75, 0.65, 0.5]), seen, hit)
    assert got.tolist() == pytest.approx([0.75, 0.75, 0.75, 0.6, 0.5])  # above them all: the top one's
    assert precision_at(torch.tensor([0.9]), seen[:0], hit[:0]).item() == 0.0
    window = PrecisionCalibrator(window=3)
    window.seen.extend([(0.9, False, 0)] * 5)
    assert len(window.seen) == 3  # the latest detections only


@pytest.mark.parametrize("norm", ["all_cells", "per_label"])
def test_pseudo_label_objectness_gradient_size(norm: str) -> None:
    grid = torch.zeros(2, 3, 8, 8, 8)
    grid[..., 4] = -4.0  # boxes the anchors' size at the cell centres; a missed cell: objectness 0.018
    levels = [grid.requires_grad_()]
    anchors = torch.tensor([[[8.0, 8.0], [16.0, 16.0], [24.0, 24.0]]])
    crit = DetectionCriterion(LossConfig(obj_balance=(1.0, 1.0, 1.0)), num_classes=3, imgsz=64)
    pseudo = torch.tensor([[1.0, 0.0, 20.0, 20.0, 36.0, 36.0]])  # image 1, class 0, 16 px
    assigned = crit.assign(levels, anchors, torch.tensor([8.0]), pseudo)
    terms = loss_pl(levels, assigned, 3, (1.0,), norm)
    terms["loss_pl_obj"].backward()
    lt = assigned[0]
    _, ious = loss_box([levels[0].detach()], [lt])
    expected = torch.sigmoid(torch.tensor(-4.0)) - ious[0].clamp(min=0)  # BCE's gradient at one cell
    grad = levels[0].grad[lt.batch, lt.anchor, lt.gy, lt.gx, 4]
    scale = 1.0 / levels[0][..., 4].numel() if norm == "all_cells" else 1.0 / len(lt.batch)
    assert torch.allclose(grad, expected * scale, atol=1e-7)
    if norm == "per_label":  # tenths: a mean over the pseudo-label cells, not over every cell (D5)
        assert grad.abs().sum().item() > 0.1
    else:
        assert grad.abs().sum().item() < 1e-2
    others = levels[0].grad[..., 4].clone()
    others[lt.batch, lt.anchor, lt.gy, lt.gx] = 0
    assert others.abs().sum() == 0  # no negatives anywhere: only the pseudo-labels' own cells


def _pseudo_over_labelled_gradient(weighting: str, norm: str) -> tuple[float, float]:
    """Gradient of the SLA-Det total at a pseudo-labelled cell over the gradient at the same cell labelled
    (objectness, then class): image 0 is labelled, image 1 holds the same cell as a pseudo-label and is masked
    out of the labelled-region loss, as outside a region."""
    from leukodet.losses.sparse import gained_pl_terms

    grid = torch.zeros(2, 3, 8, 8, 8)
    grid[..., 4] = -4.0
    levels = [grid.requires_grad_()]
    anchors, strides = torch.tensor([[[8.0, 8.0], [16.0, 16.0], [24.0, 24.0]]]), torch.tensor([8.0])
    crit = DetectionCriterion(LossConfig(obj_balance=(1.0, 1.0, 1.0)), num_classes=3, imgsz=64)
    labelled = crit.assign(levels, anchors, strides, torch.tensor([[0.0, 0.0, 20.0, 20.0, 36.0, 36.0]]))
    pseudo = crit.assign(levels, anchors, strides, torch.tensor([[1.0, 0.0, 20.0, 20.0, 36.0, 36.0]]))
    region = torch.zeros(2, 3, 8, 8)
    region[0] = 1.0  # image 0 labelled everywhere, image 1 nowhere
    lr = sum(crit.gains[k] * v for k, v in crit.terms(levels, labelled, [region]).items())
    pl = loss_pl(levels, pseudo, 3, (1.0,), norm)
    pl = gained_pl_terms(pl, crit.gains) if weighting == "gained" else pl
    (lr + 0.1 * sum(pl.values())).backward()  # Eq. 13 as loss_sla adds it (batch factor aside)
    a, b = labelled[0], pseudo[0]
    grad = levels[0].grad
    at_label, at_pseudo = grad[a.batch, a.anchor, a.gy, a.gx], grad[b.batch, b.anchor, b.gy, b.gx]
    obj = (at_pseudo[:, 4].abs().sum() / at_label[:, 4].abs().sum()).item()
    cls = (at_pseudo[:, 5].abs().sum() / at_label[:, 5].abs().sum()).item()
    return obj, cls


def test_gained_pseudo_labels_never_outweigh_a_labelled_cell() -> None:
    """``sparse.pl_weighting=gained``: a pseudo-labelled cell weighs ``pl_gain`` (0.1) of a labelled one in the
    class term and less in objectness; the authors' raw terms (D6) with the per-label objectness mean let it
    outweigh a labelled cell by orders of magnitude (the measured reason the calibrated bundle lost: issue #22)."""
    obj, cls = _pseudo_over_labelled_gradient("gained", "all_cells")
    assert obj <= 0.1 and math.isclose(cls, 0.1, rel_tol=1e-4)
    obj, cls = _pseudo_over_labelled_gradient("raw", "per_label")
    assert obj > 100 and cls > 5  # class gain 0.3 · 3 / 80: 0.1 / 0.01125 = 8.9×
