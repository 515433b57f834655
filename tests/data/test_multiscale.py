"""Multi-scale training (``train.multi_scale``): the size drawn per iteration and the batch resized to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leukodet import api
from leukodet.config import ConfigError, RunConfig, apply_overrides
from leukodet.data.multiscale import STRIDE, MultiScale
from leukodet.data.sample import Sample, collate


def test_sizes_are_stride_multiples_in_the_range_and_repeat_per_seed_and_iteration() -> None:
    ms = MultiScale(416, 0.5, seed=3)
    sizes = [ms.size(i) for i in range(400)]
    assert all(s % STRIDE == 0 and 192 <= s <= 640 for s in sizes)
    assert len(set(sizes)) >= 10  # 208..624 rounded to 32: every size of the range is drawn
    assert min(sizes) <= 256 and max(sizes) >= 576
    assert sizes == [MultiScale(416, 0.5, seed=3).size(i) for i in range(400)]  # a resumed run draws the same
    assert sizes != [MultiScale(416, 0.5, seed=4).size(i) for i in range(400)]
    assert {MultiScale(416, 0.0).size(i) for i in range(50)} == {416}


def test_a_resized_batch_keeps_every_box_on_its_cell() -> None:
    image = np.zeros((128, 128, 3), np.uint8)
    image[40:72, 16:48] = 255  # one bright 32 x 32 "cell"
    box = np.array([[16, 40, 48, 72]], np.float32)
    sample = Sample(image, box, np.zeros(1, np.int64), np.zeros((1, 0), np.int64), box.copy())
    batch = collate([sample, sample])
    ms = MultiScale(128, 0.9, seed=0)
    it = next(i for i in range(100) if ms.size(i) != 128)
    out = ms(batch, it)
    size = ms.size(it)
    f = size / 128
    assert tuple(out.images.shape) == (2, 3, size, size)
    np.testing.assert_allclose(out.targets[:, 2:].numpy(), np.tile(box * f, (2, 1)), rtol=1e-6)
    assert out.targets[:, :2].tolist() == [[0, 0], [1, 0]]  # image index and class untouched
    np.testing.assert_allclose(out.regions[0].numpy(), box * f, rtol=1e-6)
    x1, y1, x2, y2 = (out.targets[0, 2:] + 0.5).int().tolist()
    bright = out.images[0, 0] > 0.5
    inside = bright[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1]
    assert inside.all() and bright.sum() <= (x2 - x1 + 2) * (y2 - y1 + 2)  # the box still bounds the cell
    assert batch.targets[0, 2:].tolist() == box[0].tolist()  # the input batch is not changed
    assert ms(batch, next(i for i in range(100) if ms.size(i) == 128)) is batch


def test_the_switch_is_validated_and_off_by_default() -> None:
    assert RunConfig().train.multi_scale == 0.0
    assert apply_overrides(RunConfig(), ["train.multi_scale=0.5"]).train.multi_scale == 0.5
    with pytest.raises(ConfigError, match="train.multi_scale"):
        apply_overrides(RunConfig(), ["train.multi_scale=1.5"])


def test_training_with_the_switch_feeds_the_model_several_sizes(tmp_path: Path, monkeypatch) -> None:
    seen: list[int] = []
    original = MultiScale.__call__

    def spy(self: MultiScale, batch, iteration: int):
        out = original(self, batch, iteration)
        seen.append(out.images.shape[-1])
        return out

    monkeypatch.setattr(MultiScale, "__call__", spy)
    data = api.synth(tmp_path / "data", images=8, seed=2, size=96)
    api.train(data, out=tmp_path / "run", model="test_tiny", epochs=2, imgsz=96, batch=1, progress=False,
              recipe="short", overrides=["train.attributes=false", "train.plots=false", "train.multi_scale=0.5"])  # fmt: skip
    assert len(seen) >= 8 and len(set(seen)) >= 2 and all(s % STRIDE == 0 for s in seen)
    assert (tmp_path / "run" / "weights" / "best.pt").is_file()
