"""Class hierarchy (a ``WBC`` parent beside the WBC types): vocabulary rule, conditional class loss, decoding,
most-specific single-label choice, config round trip, and a trained model that keeps it."""

from __future__ import annotations

import pytest
import torch

from leukodet.losses.assign import LevelTargets
from leukodet.losses.detection import class_balance, class_target, loss_cls
from leukodet.model.config import ModelConfig
from leukodet.model.hierarchy import choose_class, hierarchical_probs
from leukodet.model.postprocess import postprocess_decoded
from leukodet.records.vocab import LLD_CLASSES, class_parents

NAMES = ["WBC", "RBC", "Myeloblast", "Neutrophil"]
PARENTS = (-1, -1, 0, 0)


def test_the_wbc_types_are_children_of_wbc_only_when_both_are_named() -> None:
    assert class_parents(NAMES) == PARENTS
    assert class_parents(["WBC", "RBC", "Platelets"]) == ()  # BCCD: no type, flat
    assert class_parents(list(LLD_CLASSES)) == ()  # LLD: no generic WBC, flat
    full = class_parents([*LLD_CLASSES, "RBC", "Platelet", "WBC"])
    assert full[0] == -1 and set(full[1:14]) == {16} and full[14:] == (-1, -1, -1)  # "None" is no WBC type


def test_config_checks_and_round_trips_the_parents() -> None:
    cfg = ModelConfig(name="test_tiny", num_classes=4, class_parents=PARENTS)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["class_parents"] == list(PARENTS)
    with pytest.raises(ValueError, match="4 classes"):
        ModelConfig(name="x", num_classes=4, class_parents=(-1, 0))
    with pytest.raises(ValueError, match=r"class_parents\[3\] = 2"):
        ModelConfig(name="x", num_classes=4, class_parents=(-1, -1, 0, 2))  # a child cannot be a parent


def test_class_targets_are_multi_hot_and_child_logits_learn_only_from_the_parents_children() -> None:
    logits = torch.zeros(3, 4)
    target, informed = class_target(torch.tensor([2, 1, 0]), logits, 1.0, 0.0, torch.tensor(PARENTS))
    assert target.tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]]
    assert informed is not None
    assert informed.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]]  # RBC and bare WBC: no type logits
    flat, none = class_target(torch.tensor([2]), logits[:1], 1.0, 0.0)
    assert flat.tolist() == [[0, 0, 1, 0]] and none is None


def _one_cell(cls: int, class_logits: list[float]) -> tuple[list[torch.Tensor], list[LevelTargets]]:
    level = torch.zeros(1, 1, 1, 1, 5 + 4)
    level[0, 0, 0, 0, 5:] = torch.tensor(class_logits)
    level.requires_grad_(True)
    z = torch.zeros(1, dtype=torch.long)
    lt = LevelTargets(z, z, z, z, torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2), z + cls, z)
    return [level], [lt]


def test_a_red_cell_leaves_the_type_logits_untouched_and_a_typed_wbc_trains_wbc_too() -> None:
    levels, assigned = _one_cell(1, [0.0, 0.0, 3.0, -3.0])
    loss_cls(levels, assigned, 4, class_parents=PARENTS)["loss_cls"].backward()
    grad = levels[0].grad[0, 0, 0, 0, 5:]
    assert grad[2:].abs().sum() == 0 and grad[0] > 0 and grad[1] < 0
    levels, assigned = _one_cell(2, [0.0, 0.0, 0.0, 0.0])
    loss_cls(levels, assigned, 4, class_parents=PARENTS)["loss_cls"].backward()
    grad = levels[0].grad[0, 0, 0, 0, 5:]
    assert grad[0] < 0 and grad[2] < 0 and grad[1] > 0 and grad[3] > 0  # WBC and Myeloblast up, others down
    levels, assigned = _one_cell(1, [0.0, 0.0, 3.0, -3.0])
    loss_cls(levels, assigned, 4)["loss_cls"].backward()  # flat: every logit is trained
    assert levels[0].grad[0, 0, 0, 0, 7:].abs().min() > 0


def test_decoding_multiplies_by_the_parent_and_a_box_takes_its_most_specific_class() -> None:
    probs = torch.tensor([[0.9, 0.1, 0.8, 0.2], [0.9, 0.1, 0.4, 0.3], [0.1, 0.9, 0.9, 0.0]])
    p = hierarchical_probs(probs, PARENTS)
    assert torch.allclose(p[0], torch.tensor([0.9, 0.1, 0.72, 0.18]))
    assert torch.equal(hierarchical_probs(probs, ()), probs)
    best, label = choose_class(p, PARENTS)
    assert label.tolist() == [2, 0, 1]  # Myeloblast (0.8 | WBC); WBC (no type reaches 0.5); RBC
    assert torch.allclose(best, torch.tensor([0.9, 0.9, 0.9]))  # a typed box keeps the WBC confidence
    boxes = torch.tensor([[50.0 + 100 * i, 50.0, 20.0, 20.0, 1.0] for i in range(3)])
    decoded = torch.cat([boxes, p], 1)[None]
    (det,) = postprocess_decoded(decoded, conf=0.25, class_parents=PARENTS)
    assert sorted(det.labels.tolist()) == [0, 1, 2]
    (multi,) = postprocess_decoded(decoded, conf=0.25, multi_label=True, class_parents=PARENTS)
    assert sorted(multi.labels.tolist()) == [0, 0, 1, 2, 2, 3]  # every (box, class) above conf, once


def test_class_balance_weighs_every_class_group_the_same() -> None:
    cls = torch.tensor([1, 1, 1, 1, 1, 1, 2, 3])  # six red cells, a Myeloblast and a Neutrophil (group WBC)
    w = class_balance(cls, torch.tensor(PARENTS), 1.0)
    assert torch.isclose(w[:6].sum(), w[6:].sum()) and torch.isclose(w.mean(), torch.tensor(1.0))
    half = class_balance(cls, torch.tensor(PARENTS), 0.5)
    assert torch.isclose(half[:6].sum() / half[6:].sum(), torch.tensor(3**0.5))  # (6/2)^(1-0.5)
    flat = class_balance(cls, None, 1.0)
    assert torch.isclose(flat[6], flat[7]) and torch.isclose(flat[:6].sum(), flat[6])  # three groups
    masked = class_balance(cls, torch.tensor(PARENTS), 1.0, torch.tensor([1.0] * 6 + [0.0, 1.0]))
    assert torch.isclose(masked[:6].sum(), masked[7])  # a cell outside the labelled region does not count


def test_balanced_class_loss_lifts_the_rare_class_gradient() -> None:
    levels = torch.zeros(1, 1, 1, 8, 5 + 4, requires_grad=True)
    cls = torch.tensor([1] * 7 + [2])
    z = torch.zeros(8, dtype=torch.long)
    lt = LevelTargets(z, z, z, torch.arange(8), torch.zeros(8, 2), torch.ones(8, 2), torch.ones(8, 2), cls, z)
    grads = []
    for balance in (0.0, 1.0):
        levels.grad = None
        loss_cls([levels], [lt], 4, class_parents=PARENTS, balance=balance)["loss_cls"].backward()
        grads.append(levels.grad[0, 0, 0, 7, 5].item())  # the WBC logit of the one white cell
    assert grads[1] < grads[0] < 0 and grads[1] / grads[0] > 3
