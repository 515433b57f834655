"""Precise BN: the evaluated weights carry BatchNorm statistics of their own, not stale running averages."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from leukodet import api
from leukodet.config import AugmentConfig
from leukodet.data.dataset import DetectionDataset, PlainView
from leukodet.data.sample import Sample, collate
from leukodet.engine.batchnorm import recalibrate_batchnorm, recalibration_indices
from leukodet.model.checkpoint import load_checkpoint
from leukodet.model.registry import create_model
from leukodet.records.sources import load_source


class _Images(torch.utils.data.Dataset):
    """Samples whose ``image`` is a fixed random 3x8x8 tensor (what :func:`collate` stacks)."""

    def __init__(self, n: int) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, 8, 8, 3, generator=gen).mul(255).to(torch.uint8).numpy()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Sample:
        none = np.zeros((0, 4), np.float32)
        return Sample(self.images[i], none, np.zeros(0, np.int64), np.zeros((0, 0), np.int64), None, f"{i}")


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.03), nn.SiLU(), nn.BatchNorm2d(4))


def test_recalibration_gives_the_exact_mean_of_the_batch_statistics() -> None:
    data, net = _Images(12), _net()
    for m in net.modules():  # stale statistics, as after many steps with other weights
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.fill_(5.0)
            m.running_var.fill_(9.0)
    net.eval()
    weights = copy.deepcopy(net.state_dict())
    batches = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    seen = recalibrate_batchnorm(net, data, batches, torch.device("cpu"))
    assert seen == 12 and not net.training  # evaluation mode kept
    assert net[1].momentum == 0.03 and net[3].momentum == 0.1  # momenta restored
    # expected: per batch, the layer's batch mean and unbiased variance; then their plain average
    means, variances = [], []
    for idx in batches:
        x = net[0](collate([data[i] for i in idx]).images)
        means.append(x.mean((0, 2, 3)))
        variances.append(x.var((0, 2, 3), unbiased=True))
    assert torch.allclose(net[1].running_mean, torch.stack(means).mean(0), atol=1e-5)
    assert torch.allclose(net[1].running_var, torch.stack(variances).mean(0), atol=1e-5)
    for name, value in net.state_dict().items():  # weights untouched
        if "running" not in name and "num_batches" not in name:
            assert torch.equal(value, weights[name]), name


def test_recalibration_without_batches_changes_nothing_and_an_error_restores_the_statistics() -> None:
    net = _net()
    before = copy.deepcopy(net.state_dict())
    assert recalibrate_batchnorm(net, _Images(4), [], torch.device("cpu")) == 0
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())

    class Broken(_Images):
        def __getitem__(self, i: int) -> Sample:
            if i == 3:
                raise OSError("image 3 unreadable")
            return super().__getitem__(i)

    with pytest.raises(OSError):
        recalibrate_batchnorm(net, Broken(4), [[0, 1], [2, 3]], torch.device("cpu"))
    assert torch.equal(net[1].running_mean, before["1.running_mean"]) and net[1].momentum == 0.03


def test_recalibration_indices_are_seeded_distinct_and_never_single() -> None:
    a = recalibration_indices(10, 4, 4, seed=1, epoch=2)
    assert a == recalibration_indices(10, 4, 4, seed=1, epoch=2)  # same on every process and after resume
    assert a != recalibration_indices(10, 4, 4, seed=1, epoch=3)
    flat = [i for b in a for i in b]
    assert len(flat) == len(set(flat)) and [len(b) for b in a] == [4, 4, 2]
    assert recalibration_indices(9, 4, 4, 0, 0)[-1] != [0] and all(
        len(b) > 1 for b in recalibration_indices(9, 4, 4, 0, 0)
    )
    assert recalibration_indices(5, 0, 4, 0, 0) == []


@pytest.mark.parametrize("images", ["augmented", "plain"])
def test_a_run_saves_ema_weights_with_their_own_batchnorm_statistics(tmp_path: Path, images: str) -> None:
    """The checkpoint's EMA statistics are those of its own weights on the epoch's recalibration batches, seen
    as ``train.bn_recalibration_images`` says (the cause of the val collapses was statistics averaged over
    earlier weights); the other view gives other statistics, so the switch is what decides."""
    data = api.synth(tmp_path / "data", images=10, seed=3, size=160)
    run = tmp_path / "run"
    api.train(
        data,
        model="test_tiny",
        epochs=1,
        imgsz=160,
        batch=4,
        out=run,
        progress=False,
        recipe="short",
        overrides=["train.attributes=false", f"train.bn_recalibration_images={images}"],
    )
    ckpt = load_checkpoint(run / "weights" / "last.pt")
    ds, _ = load_source(data)
    model = create_model("test_tiny", len(ds.classes))
    model.load_state_dict(ckpt["ema"])
    twin = copy.deepcopy(model)
    train = DetectionDataset(ds.split("train"), len(ds.classes), ds.attributes, 160, AugmentConfig(), True, 0)
    train.set_epoch(0)
    picks = recalibration_indices(len(train), 4, 4, seed=0, epoch=0)
    views = {"augmented": train, "plain": PlainView(train)}
    other = copy.deepcopy(model)
    assert recalibrate_batchnorm(twin, views[images], picks, torch.device("cpu")) == 8
    recalibrate_batchnorm(
        other, views["plain" if images == "augmented" else "augmented"], picks, torch.device("cpu")
    )
    saved, recomputed, differ = model.state_dict(), twin.state_dict(), other.state_dict()
    names = [k for k in saved if k.endswith("running_mean")]
    assert names and all(torch.allclose(saved[k], recomputed[k], atol=1e-5) for k in names)
    assert any(not torch.allclose(saved[k], differ[k], atol=1e-4) for k in names)
    stale = ckpt["model"]  # the trained weights' own running averages differ: the recalibration ran
    assert any(not torch.allclose(stale[k], saved[k], atol=1e-4) for k in names)
