"""DACA's training objective (Mekhalfi, Boscaini, Poiesi, BMVC 2023; ``leukodet train --adapt daca``).

*Detect, Augment, Compose, and Adapt*, one training step of :class:`DACAObjective`:

1. **detect** — the labelled source batch's detection loss, as in any run; then as many unlabelled target
   images, detected without gradient (the live model in eval mode, or its EMA weights with
   ``adapt.teacher: ema``); each target image is split into ``daca.grid × daca.grid`` regions and the region
   whose detections are the most confident on average is chosen; its detections scoring at least
   ``daca.pl_conf`` are the pseudo-labels;
2. **augment** — the chosen region is cropped and ``grid²`` versions of it are made (mirrored four ways with
   their pseudo-boxes, colour-jittered);
3. **compose** — the versions are laid out as a ``grid × grid`` mosaic the size of a network input, labelled
   with the moved pseudo-boxes (``daca.source_tiles`` ≥ 1, a leukodet variant, puts that many of the source
   image's own pieces, with their ground truth, in random tiles instead);
4. **adapt** — the loss is the source loss plus ``daca.gain`` × the detection loss of the composites (every
   pixel of a composite without a box is background, as ConfMix's mixed images).

The tensor steps are in :mod:`leukodet.losses.daca_compose`; the target images come from the engine
(:class:`leukodet.engine.adaptation.TargetStream`). Logged per step, averaged per epoch in ``results.csv``:
``n_pseudo`` (pseudo-labels per target image), ``n_composed`` (target pseudo-boxes per composite image),
``region_conf`` (mean confidence of the chosen regions) and the composites' loss terms (``comp_*``).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from ..comparator_config import DACAConfig
from ..config import AdaptConfig
from ..data.sample import Batch
from ..model.postprocess import postprocess_decoded
from .confmix import region_boxes, region_confidence
from .confmix_objective import detect_in_eval
from .criterion import DetectionCriterion
from .daca_compose import augmented_versions, compose, region_pseudo_labels, source_piece, tile_plan
from .objective import TargetImages, Terms, forward_with_loss
from .sladet import loss_lr

__all__ = ["DACAObjective", "Chosen"]

Chosen = list[tuple[Tensor, Tensor]]
"""Per target image: the chosen region (xyxy ``[4]``) and its pseudo-labels (rows ``[K, 5]``, crop pixels)."""


class DACAObjective:
    """Loss of one DACA step (see the module docstring).

    Args:
        criterion: the detection criterion of the labelled source.
        adapt: the ``adapt`` config section (``burn_in``, ``teacher``; the target data is read by the engine).
        cfg: the ``daca`` config section.
        target_images: the unlabelled target images, ``n`` at a time (:data:`TargetImages`).
        teacher: the model that detects on the target (the EMA weights with ``adapt.teacher: ema``); ``None`` =
            the live model in eval mode.
        generator: random source of the augmentations and tile plans (default: torch's global RNG, which the
            run seeds).
    """

    def __init__(
        self,
        criterion: DetectionCriterion,
        adapt: AdaptConfig,
        cfg: DACAConfig,
        target_images: TargetImages,
        teacher: nn.Module | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.criterion, self.adapt, self.cfg = criterion, adapt, cfg
        self.target_images, self.teacher, self.generator = target_images, teacher, generator

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, Terms]:
        _, total, terms = forward_with_loss(model, batch, self.criterion)
        if progress < self.adapt.burn_in:
            return total, terms
        target = self.target_images(len(batch.images), batch.images.device)
        with torch.no_grad():
            chosen, stats = self.detect(model, target)
            images, targets, n_target = self.compose_batch(batch, target, chosen)
        composed = replace(
            batch,
            images=images,
            targets=targets,
            attributes=batch.attributes.new_zeros((len(targets), 0)),  # no attribute labels on composites
            regions=[None] * len(images),
        )
        _, comp_total, comp_terms = loss_lr(model, composed, self.criterion, masked=False)
        stats["n_composed"] = torch.tensor(n_target / max(len(images), 1))
        logged = {**terms, **{f"comp_{k}": v.detach() for k, v in comp_terms.items()}, **stats}
        return total + self.cfg.gain * comp_total, logged

    def detect(self, model: nn.Module, target: Tensor) -> tuple[Chosen, dict[str, Tensor]]:
        """Step 1 on ``[B, 3, H, W]`` target images: per image the region with the highest mean detection score
        (:func:`leukodet.losses.confmix.region_confidence`; the first region when nothing is detected) and its
        pseudo-labels (:func:`leukodet.losses.daca_compose.region_pseudo_labels`), with the logged figures."""
        cfg = self.cfg
        out, decoded = detect_in_eval(self.teacher if self.teacher is not None else model, target)
        grid = region_boxes(tuple(target.shape[-2:]), cfg.grid).to(target.device)
        dets = postprocess_decoded(decoded, cfg.det_conf, cfg.nms_iou, class_parents=out.class_parents)
        chosen: Chosen = []
        best = []
        for d in dets:
            conf = region_confidence(d.boxes, d.scores, grid)
            k = int(conf.argmax())
            chosen.append((grid[k], region_pseudo_labels(d.boxes, d.scores, d.labels, grid[k], cfg.pl_conf)))
            best.append(float(conf[k]))
        stats = {
            "n_pseudo": torch.tensor(sum(len(r) for _, r in chosen) / max(len(chosen), 1)),
            "region_conf": torch.tensor(sum(best) / max(len(best), 1)),
        }
        return chosen, stats

    def compose_batch(self, batch: Batch, target: Tensor, chosen: Chosen) -> tuple[Tensor, Tensor, int]:
        """Steps 2–3: one composite per target image (``[B, 3, H, W]``), their labels ``[M, 6]`` (image,
        class, xyxy) and how many of those are target pseudo-boxes (the rest: source boxes of source tiles)."""
        cfg, size = self.cfg, (int(target.shape[-2]), int(target.shape[-1]))
        cells = region_boxes(size, cfg.grid).to(target.device)
        n_tiles = len(cells)
        images, rows, n_target = [], [], 0
        for b, (cell, pseudo) in enumerate(chosen):
            x1, y1, x2, y2 = (int(v) for v in cell.round().tolist())
            versions = augmented_versions(target[b, :, y1:y2, x1:x2], pseudo, n_tiles, cfg, self.generator)
            plan = tile_plan(n_tiles, cfg.source_tiles, self.generator)
            own = batch.targets[batch.targets[:, 0] == b]
            pieces = [
                source_piece(batch.images[b], own, cells[k]) if plan[k] else versions[k]
                for k in range(n_tiles)
            ]
            n_target += sum(len(versions[k][1]) for k in range(n_tiles) if not plan[k])
            image, comp = compose(pieces, cells, size)
            images.append(image)
            rows.append(torch.cat([comp.new_full((len(comp), 1), float(b)), comp], 1))
        return torch.stack(images), torch.cat(rows).to(batch.targets.dtype), n_target
