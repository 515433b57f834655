"""The AttriHead reads only the cells that carry attribute labels, and ``L_mor`` is unchanged by that."""

from __future__ import annotations

import torch

from leukodet.config import LossConfig
from leukodet.data.sample import Batch
from leukodet.losses.criterion import DetectionCriterion
from leukodet.losses.objective import attribute_cells, forward_with_loss
from leukodet.model.registry import create_model

SIZES = (2, 3)


def _batch() -> Batch:
    # image 1's rows come first in the tensor to check the per-image order; -1 rows are red cells/platelets
    targets = torch.tensor(
        [
            [1, 0, 10, 10, 40, 40],
            [0, 1, 5, 5, 20, 20],
            [0, 0, 30, 30, 60, 60],
            [1, 2, 50, 50, 60, 60],
            [0, 0, 70, 10, 100, 40],
        ],
        dtype=torch.float32,
    )
    attributes = torch.tensor([[1, 2], [-1, -1], [0, -1], [-1, -1], [1, 0]])
    return Batch(
        images=torch.rand(2, 3, 128, 128),
        targets=targets,
        attributes=attributes,
        regions=[None, None],
        paths=["a", "b"],
        orig_sizes=[(128, 128)] * 2,
        ratios=[1.0, 1.0],
        pads=[(0.0, 0.0)] * 2,
    )


def test_attribute_cells_keeps_labelled_cells_in_image_order() -> None:
    boxes, attributes = attribute_cells(_batch())
    assert [b.tolist() for b in boxes] == [[[30, 30, 60, 60], [70, 10, 100, 40]], [[10, 10, 40, 40]]]
    assert attributes.tolist() == [[0, -1], [1, 0], [1, 2]]  # same order as the boxes, image by image


def test_attribute_loss_equals_the_loss_over_every_cell() -> None:
    torch.manual_seed(0)
    model = create_model("test_tiny", 3, attribute_sizes=SIZES).eval()  # eval: dropout off, same logits
    crit = DetectionCriterion(LossConfig(), 3, 128, attribute_sizes=SIZES)
    batch = _batch()
    out, _, terms = forward_with_loss(model, batch, crit)
    assert out.attribute_logits is not None and out.attribute_logits.shape == (3, sum(SIZES))
    idx = batch.targets[:, 0].long()
    every = [batch.targets[idx == i, 2:6] for i in range(2)]
    order = torch.argsort(idx, stable=True)
    full = model(batch.images, every).attribute_logits
    _, ref = crit(
        out.levels, out.anchors, torch.tensor(out.strides), batch.targets, None, full, batch.attributes[order]
    )
    assert full is not None and full.shape[0] == 5
    torch.testing.assert_close(terms["loss_attr"], ref["loss_attr"])
    assert float(terms["loss_attr"]) > 0
