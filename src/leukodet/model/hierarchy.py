"""Class hierarchy: a parent class (``WBC``) trained beside its child classes (the WBC types).

A data set may name a generic class and its specific kinds together: BCCD boxes say ``WBC``, LeukemiaAttri boxes
say ``Myeloblast``, a product model says both. leukodet reads the child logits as *conditional* on the parent:

* training (:func:`leukodet.losses.detection.loss_cls`): a child-labelled box is a positive of its class *and*
  of the parent; the child logits are trained only on boxes of one of the parent's children (a box labelled
  with the bare parent, or any other class, leaves them untouched), so the rare types are not drowned by the
  common classes around them (red cells outnumber WBCs 25 to 1 in a film);
* decoding (:func:`hierarchical_probs`): ``P(child) = P(parent) · P(child | parent)``;
* single-label prediction (:func:`choose_class`): a box takes its most specific class, i.e. the best child
  when that child's conditional probability reaches :data:`MIN_CONDITIONAL`, else the parent, and keeps the
  parent's score (the confidence that the box is a WBC at all).

``parents`` is a tuple with one entry per class: the index of the class's parent, or ``-1`` (a root class).
An empty tuple is a flat vocabulary, where all three functions change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["MIN_CONDITIONAL", "check_parents", "hierarchical_probs", "choose_class"]

MIN_CONDITIONAL = 0.5
"""Least ``P(child | parent)`` for a single-label prediction to name the child instead of the parent."""


def check_parents(parents: Sequence[int], num_classes: int) -> tuple[int, ...]:
    """``parents`` as a tuple of ints, checked: one per class (or none), each ``-1`` or a root class index."""
    out = tuple(int(p) for p in parents)
    if not out:
        return out
    if len(out) != num_classes:
        raise ValueError(f"class_parents has {len(out)} entries for {num_classes} classes")
    for c, p in enumerate(out):
        if p != -1 and not (0 <= p < num_classes and p != c and out[p] == -1):
            raise ValueError(f"class_parents[{c}] = {p}: a parent must be another class with no parent")
    return out


def hierarchical_probs(probs: Tensor, parents: Sequence[int]) -> Tensor:
    """``[..., C]`` class probabilities with each child's multiplied by its parent's (unchanged if flat)."""
    if not parents:
        return probs
    par = torch.tensor(parents, device=probs.device)
    parent_p = probs[..., par.clamp(min=0)]
    return probs * torch.where(par >= 0, parent_p, torch.ones_like(parent_p))


def choose_class(
    scores: Tensor, parents: Sequence[int], min_conditional: float = MIN_CONDITIONAL
) -> tuple[Tensor, Tensor]:
    """Best ``(score, class)`` per row of ``[..., C]`` hierarchical scores, the most specific class first.

    The best class is taken as usual; where it is a parent, its best child replaces it if
    ``score(child) ≥ min_conditional · score(parent)`` (scores are ``P(parent) · P(child | parent)`` times the
    objectness), and the score stays the parent's.
    """
    best, labels = scores.max(-1)
    for p in sorted({p for p in parents if p >= 0}):
        kids = torch.tensor([q == p for q in parents], device=scores.device)
        kid_best, kid = scores.masked_fill(~kids, -1.0).max(-1)
        take = (labels == p) & (kid_best >= min_conditional * best)
        labels = torch.where(take, kid, labels)
    return best, labels
