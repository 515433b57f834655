"""ConfMix's training objective (Mattolin et al., WACV 2023; ``leukodet train --adapt confmix``).

:class:`ConfMixObjective` is an :class:`leukodet.losses.objective.Objective`. Each step it (1) computes the
detection loss of the labelled source batch, (2) detects on as many unlabelled target images without gradient,
(3) scores each target detection with the progressive confidence (its schedule follows the run's ``progress``)
and each ``grid × grid`` region of the target image with the mean confidence of its detections, (4) pastes the
most confident region of each target image into its source image, labelled with the source ground truth
outside that region and the confident pseudo-labels inside, and (5) adds ``gain`` × the detection loss on the
mixed images. The pieces are in :mod:`leukodet.losses.confmix`; the target images come from the engine
(:class:`leukodet.engine.adaptation.TargetStream`).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from ..config import AdaptConfig
from ..data.sample import Batch
from ..model.decode import decode_boxes
from ..model.output import DetectorOutput
from ..model.postprocess import postprocess_decoded
from .confmix import (
    box_uncertainty,
    mix_images,
    mix_targets,
    outside_cell,
    progressive_delta,
    pseudo_confidence,
    region_boxes,
    region_confidence,
)
from .criterion import DetectionCriterion
from .objective import TargetImages, Terms, forward_with_loss
from .sladet import loss_lr
from .sparse import loss_pl

__all__ = ["ConfMixObjective"]


def detect_in_eval(model: nn.Module, images: Tensor) -> tuple[DetectorOutput, Tensor]:
    """The network's output and its decoded ``[B, N, 5 + nc]`` predictions on ``images``, in eval mode (the
    network's mode restored after), without gradient: the target detections of ConfMix and DACA."""
    net = getattr(model, "module", model)
    mode = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(images)
            return out, decode_boxes(out)
    finally:
        net.train(mode)


class ConfMixObjective:
    """Loss of one ConfMix step (see the module docstring).

    Args:
        criterion: the detection criterion of the labelled source.
        cfg: the ``adapt`` config section.
        target_images: the unlabelled target images, ``n`` at a time (:data:`TargetImages`).
        teacher: the model that detects on the target (the EMA weights with ``adapt.teacher: ema``); ``None`` =
            the live model in eval mode.
    """

    def __init__(
        self,
        criterion: DetectionCriterion,
        cfg: AdaptConfig,
        target_images: TargetImages,
        teacher: nn.Module | None = None,
    ) -> None:
        self.criterion, self.cfg, self.target_images = criterion, cfg, target_images
        self.teacher = teacher

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, Terms]:
        _, total, terms = forward_with_loss(model, batch, self.criterion)
        if progress < self.cfg.burn_in:
            return total, terms
        target = self.target_images(len(batch.images), batch.images.device)
        with torch.no_grad():
            pseudo, cells, stats = self.pseudo_labels(model, target, progress)
        images = mix_images(batch.images, target, cells)
        if self.cfg.target_negatives:
            _, mix_total, mix_terms = self._mixed_loss(
                model, batch, images, mix_targets(batch.targets, pseudo, cells)
            )
        else:
            mix_total, mix_terms = self._mixed_loss_unlabelled_cell(model, batch, images, pseudo, cells)
        logged = {**terms, **{f"mix_{k}": v.detach() for k, v in mix_terms.items()}, **stats}
        return total + self.cfg.gain * mix_total, logged

    def _mixed_loss(
        self,
        model: nn.Module,
        batch: Batch,
        images: Tensor,
        targets: Tensor,
        regions: list[Tensor | None] | None = None,
    ) -> tuple[DetectorOutput, Tensor, dict[str, Tensor]]:
        """Forward and detection loss of the mixed ``images`` with ``targets``; with ``regions`` (per image, the
        part that is labelled) the loss is Eq. (4)'s, masked to them."""
        mixed = replace(
            batch,
            images=images,
            targets=targets,
            attributes=batch.attributes.new_zeros((len(targets), 0)),  # no attribute labels on mixed images
            regions=[None] * len(batch.images) if regions is None else regions,
        )
        return loss_lr(model, mixed, self.criterion, masked=regions is not None)

    def _mixed_loss_unlabelled_cell(
        self, model: nn.Module, batch: Batch, images: Tensor, pseudo: Tensor, cells: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``adapt.target_negatives=false``: the source part is labelled (Eq. 4 region masks), the pasted cell
        is not; its pseudo-labels add Eq. 7's positive-only terms at ConfMix's full weight (the loss gains)."""
        crit, device = self.criterion, images.device
        h, w = images.shape[-2:]
        regions = [outside_cell(c, (h, w)) for c in cells.cpu()]
        source = mix_targets(batch.targets, pseudo[:0], cells)
        out, mix_total, mix_terms = self._mixed_loss(model, batch, images, source, regions)
        inside = mix_targets(batch.targets[:0], pseudo, cells)
        if len(inside):
            strides = torch.tensor(out.strides, device=device)
            assigned = crit.assign(out.levels, out.anchors, strides, inside)
            pl = loss_pl(out.levels, assigned, crit.num_classes, crit.cfg.obj_balance)
            gains = {"loss_pl_box": crit.cfg.box, "loss_pl_obj": crit.cfg.obj, "loss_pl_cls": crit.cfg.cls}
            bs = crit.batch_size(images.shape[0], out.levels[0])
            mix_total = mix_total + bs * sum(gains[k] * v for k, v in pl.items())
            mix_terms = {**mix_terms, **pl}
        return mix_total, mix_terms

    def pseudo_labels(
        self, model: nn.Module, target: Tensor, progress: float
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Pseudo-labels ``[P, 6]`` (image, class, xyxy) above ``pl_conf``, the chosen region of each target
        image ``[B, 4]`` and logged figures (δ, pseudo-labels per image, mean chosen-region confidence)."""
        cfg = self.cfg
        out, decoded = detect_in_eval(self.teacher if self.teacher is not None else model, target)
        delta = progressive_delta(progress, cfg.gamma)
        grid = region_boxes(tuple(target.shape[-2:]), cfg.grid).to(target.device)
        rows, chosen, best = [], [], []
        for b, dets in enumerate(
            postprocess_decoded(decoded, cfg.det_conf, cfg.nms_iou, class_parents=out.class_parents)
        ):
            pred = decoded[b]
            scores = pred[:, 4] * pred[:, 5:].max(1).values if pred.shape[1] > 5 else pred[:, 4]
            cand = scores > cfg.det_conf
            xy, wh = pred[cand, :2], pred[cand, 2:4]
            boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
            unc = box_uncertainty(dets.boxes, boxes, scores[cand], cfg.unc_iou)
            conf = pseudo_confidence(dets.scores, unc, delta)
            region_conf = region_confidence(dets.boxes, conf, grid)
            k = int(region_conf.argmax())
            chosen.append(grid[k])
            best.append(region_conf[k])
            keep = conf >= cfg.pl_conf
            col = torch.full((int(keep.sum()), 1), float(b), device=target.device)
            rows.append(torch.cat([col, dets.labels[keep, None].float(), dets.boxes[keep]], 1))
        pseudo = torch.cat(rows) if rows else target.new_zeros((0, 6))
        stats = {
            "delta": torch.tensor(delta),
            "n_pseudo": torch.tensor(len(pseudo) / max(len(target), 1)),
            "region_conf": torch.stack(best).mean().cpu() if best else torch.tensor(0.0),
        }
        return pseudo, torch.stack(chosen), stats
