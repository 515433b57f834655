"""Learnability benchmark: are the synthetic classes and attributes visible in the pixels?

Renders 2,000 single-WBC crops (88 px rendered, centre 72 px used, HCM_100x_C2, classes drawn uniformly, attributes from the class
priors) with seed A and 1,000 with seed B, trains a small multi-head CNN on A for at most 3 CPU minutes
(hard budget, checked every batch) and reports the balanced accuracy on B of the 14-way class and of each of
the 7 binary attributes (class ``None`` crops have no attributes and are left out of the attribute scores).
Prints one JSON line and writes it atomically to ``benchmarks/results/synth_learnability.json``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
from result_file import publish
from torch import nn

from leukodet.records.vocab import LLD_ATTRIBUTES, LLD_CLASSES
from leukodet.synth.crops import crop_label, render_crop

TRAIN_SEED, TEST_SEED = 1000, 2000
N_TRAIN, N_TEST = 2000, 1000
BUDGET_S = 180.0
ATTRS = tuple(LLD_ATTRIBUTES)


def make_set(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (N,3,72,72) in [0,1], class ids (N,), attributes (N,7) with -1 for not applicable."""
    xs, ys, atts = [], [], []
    for i in range(n):
        f = render_crop(seed * 100000 + i)
        c = crop_label(f)
        xs.append(f.image[8:-8, 8:-8])  # centre 72 px
        ys.append(c.class_id)
        atts.append([-1 if c.attributes[a] is None else int(c.attributes[a]) for a in ATTRS])
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.tensor(ys), torch.tensor(atts)


class Net(nn.Module):
    """Four conv blocks, global pooling, one linear head per task (14 classes + 7 x 2 attribute values)."""

    def __init__(self) -> None:
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

        self.body = nn.Sequential(
            block(3, 16), block(16, 32), block(32, 48), block(48, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(96, len(LLD_CLASSES) + 2 * len(ATTRS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def loss_fn(out: torch.Tensor, y: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    nc = len(LLD_CLASSES)
    loss = nn.functional.cross_entropy(out[:, :nc], y)
    for k in range(len(ATTRS)):
        m = a[:, k] >= 0
        if m.any():
            loss = loss + nn.functional.cross_entropy(out[m, nc + 2 * k : nc + 2 * k + 2], a[m, k])
    return loss


def balanced_accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[true == c] == c) for c in np.unique(true)]))


def augment(x: torch.Tensor) -> torch.Tensor:
    """Flips and 180° rotations (cell appearance is orientation-free; the squash is kept)."""
    if torch.rand(()) < 0.5:
        x = x.flip(3)
    if torch.rand(()) < 0.5:
        x = x.flip(2)
    return x


def main() -> dict[str, object]:
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("LEUKODET_THREADS", "2")))
    t0 = time.time()
    xtr, ytr, atr = make_set(TRAIN_SEED, N_TRAIN)
    xte, yte, ate = make_set(TEST_SEED, N_TEST)
    t_data = time.time() - t0
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-4)
    t1, epochs = time.time(), 0
    while time.time() - t1 < BUDGET_S:
        net.train()
        perm = torch.randperm(N_TRAIN)
        for i in range(0, N_TRAIN, 64):
            if time.time() - t1 >= BUDGET_S:
                break
            idx = perm[i : i + 64]
            loss = loss_fn(net(augment(xtr[idx])), ytr[idx], atr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs += 1
        for g in opt.param_groups:
            g["lr"] = 3e-3 * max(0.05, 1 - (time.time() - t1) / BUDGET_S)
    t_train = time.time() - t1
    net.eval()
    with torch.no_grad():
        out = torch.cat([net(xte[i : i + 200]) for i in range(0, N_TEST, 200)]).numpy()
    nc = len(LLD_CLASSES)
    res: dict[str, object] = {
        "benchmark": "synth_learnability",
        "train_crops": N_TRAIN,
        "test_crops": N_TEST,
        "train_seed": TRAIN_SEED,
        "test_seed": TEST_SEED,
        "epochs": epochs,
        "train_seconds": round(t_train, 1),
        "data_seconds": round(t_data, 1),
        "threads": torch.get_num_threads(),
    }
    ba = {"class": balanced_accuracy(out[:, :nc].argmax(1), yte.numpy())}
    for k, a in enumerate(ATTRS):
        m = ate[:, k].numpy() >= 0
        ba[a] = balanced_accuracy(out[m, nc + 2 * k : nc + 2 * k + 2].argmax(1), ate[m, k].numpy())
    res["balanced_accuracy"] = {k: round(v, 3) for k, v in ba.items()}
    res["min_balanced_accuracy"] = round(min(ba.values()), 3)
    res["pass"] = bool(min(ba.values()) >= 0.8)
    return res


if __name__ == "__main__":
    publish("synth_learnability", main())
    sys.exit(0)
