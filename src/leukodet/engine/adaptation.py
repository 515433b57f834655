"""Unsupervised domain adaptation in the training loop: ConfMix (``leukodet train --adapt confmix``).

:class:`ConfMixLoss` is a loss function with the trainer's signature (as
:func:`leukodet.engine.loop.default_loss`). Each step it (1) computes the detection loss of the labelled
source batch, (2) detects on as many unlabelled target images without gradient, (3) scores each target
detection with the progressive confidence and each ``grid × grid`` region of the target image with the mean
confidence of its detections, (4) pastes the most confident region of each target image into its source
image, labelled with the source ground truth outside that region and the confident pseudo-labels inside, and
(5) adds ``gain`` × the detection loss on the mixed images. The pieces are in :mod:`leukodet.losses.confmix`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, RandomSampler

from ..config import AdaptConfig, RunConfig
from ..data.dataset import DetectionDataset
from ..data.sample import Batch, collate
from ..data.stain import StainNormalizer
from ..losses.confmix import (
    box_uncertainty,
    mix_images,
    mix_targets,
    outside_cell,
    progressive_delta,
    pseudo_confidence,
    region_boxes,
    region_confidence,
)
from ..losses.criterion import DetectionCriterion
from ..losses.sparse import loss_pl, region_masks
from ..model import DEFAULT_STRIDES
from ..model.decode import decode_boxes
from ..model.output import DetectorOutput
from ..model.postprocess import postprocess_decoded
from ..records.diagnostics import DataError
from ..records.schema import AttributeSchema, ImageRecord
from ..records.sources import load_source
from .loop import forward_with_loss

__all__ = ["ConfMixLoss", "target_records", "target_loader"]


def target_records(source: str) -> list[ImageRecord]:
    """The target domain's training images (its ``train`` split, else every image), labels removed."""
    ds, _ = load_source(source)
    records = ds.split("train") if "train" in ds.splits else list(ds.records)
    if not records:
        raise DataError(f"{source}: the target dataset has no images")
    return [r.with_(cells=(), labeled_regions=None) for r in records]


def target_loader(
    records: list[ImageRecord], imgsz: int, batch: int, seed: int, stain: StainNormalizer | None = None
) -> DataLoader[Any]:
    """Letterboxed (and colour-normalised, with ``stain``) target images in random order, ``batch`` per step
    (the last short batch dropped when there are enough images)."""
    dataset = DetectionDataset(records, 0, AttributeSchema(), imgsz, None, stain=stain)
    gen = torch.Generator().manual_seed(seed)
    size = min(batch, len(dataset))
    return DataLoader(
        dataset,
        batch_size=size,
        sampler=RandomSampler(dataset, generator=gen),
        collate_fn=collate,
        drop_last=True,
    )


class ConfMixLoss:
    """Loss of one ConfMix step (see the module docstring); ``fraction`` (share of the run done) is set by
    the trainer each epoch, ``teacher`` to the EMA model when ``adapt.teacher == "ema"``."""

    def __init__(self, criterion: DetectionCriterion, cfg: AdaptConfig, target: DataLoader[Any]) -> None:
        self.criterion, self.cfg, self.target = criterion, cfg, target
        self.fraction = 0.0
        self.teacher: nn.Module | None = None
        self._batches: Iterator[Batch] | None = None

    @classmethod
    def from_config(
        cls, run: RunConfig, criterion: DetectionCriterion, batch: int, stain: StainNormalizer | None = None
    ) -> ConfMixLoss:
        """Build the loss and its target loader from a run config (``batch``: source images per process;
        ``stain``: the run's colour normalisation, applied to the target images too)."""
        records = target_records(run.adapt.target_data)
        loader = target_loader(records, run.train.imgsz, batch, run.train.seed, stain)
        return cls(criterion, run.adapt, loader)

    def _target_images(self, n: int, device: torch.device) -> Tensor:
        """``n`` letterboxed target images (cycling through the target set; repeated when it is small)."""
        images: list[Tensor] = []
        while sum(len(x) for x in images) < n:
            if self._batches is None:
                self._batches = iter(self.target)
            try:
                images.append(next(self._batches).images)
            except StopIteration:
                self._batches = None
        return torch.cat(images)[:n].to(device)

    def __call__(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        _, total, terms = forward_with_loss(model, batch, self.criterion)
        if self.fraction < self.cfg.burn_in:
            return total, terms
        target = self._target_images(len(batch.images), batch.images.device)
        with torch.no_grad():
            pseudo, cells, stats = self.pseudo_labels(model, target)
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
        masks: list[Tensor] | None = None,
    ) -> tuple[DetectorOutput, Tensor, dict[str, Tensor]]:
        """Forward and detection loss of the mixed ``images`` with ``targets`` (and per-level cell ``masks``)."""
        mixed = replace(
            batch,
            images=images,
            targets=targets,
            attributes=batch.attributes.new_zeros((len(targets), 0)),  # no attribute labels on mixed images
            regions=[None] * len(batch.images),
        )
        return forward_with_loss(model, mixed, self.criterion, masks)

    def _mixed_loss_unlabelled_cell(
        self, model: nn.Module, batch: Batch, images: Tensor, pseudo: Tensor, cells: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``adapt.target_negatives=false``: the source part is labelled (Eq. 4 region masks), the pasted cell
        is not; its pseudo-labels add Eq. 7's positive-only terms at ConfMix's full weight (the loss gains)."""
        crit, device = self.criterion, images.device
        h, w = images.shape[-2:]
        sizes = [(h // s, w // s) for s in DEFAULT_STRIDES]
        regions = [outside_cell(c, (h, w)) for c in cells.cpu()]
        masks = [m.to(device) for m in region_masks(regions, sizes, DEFAULT_STRIDES, 3)]
        source = mix_targets(batch.targets, pseudo[:0], cells)
        out, mix_total, mix_terms = self._mixed_loss(model, batch, images, source, masks)
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

    def pseudo_labels(self, model: nn.Module, target: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Pseudo-labels ``[P, 6]`` (image, class, xyxy) above ``pl_conf``, the chosen region of each target
        image ``[B, 4]`` and logged figures (δ, pseudo-labels per image, mean chosen-region confidence)."""
        cfg = self.cfg
        net = self.teacher if self.teacher is not None else getattr(model, "module", model)
        mode = net.training
        net.eval()
        try:
            out = net(target)
            decoded = decode_boxes(out)
        finally:
            net.train(mode)
        delta = progressive_delta(self.fraction, cfg.gamma)
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
