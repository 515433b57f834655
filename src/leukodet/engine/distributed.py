"""Multi-process training under ``torchrun``: process context, global-batch sampler, synchronised batch norm.

One code path serves one process and many: :class:`DistContext` reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``
from the environment (``torchrun`` sets them; absent means one process) and joins a process group (gloo on
CPU, nccl on CUDA). The contract is that N processes at global batch B train *the same model* as one process at
batch B:

* :class:`GlobalBatchSampler` draws the one-process permutation and gives rank ``r`` its slice of each global
  batch, so the union of the local batches is the one-process batch (augmentation is keyed by sample index and
  epoch, never by process);
* the loss divides by process-mean denominators (:meth:`DistContext.mean`), so the mean of the local losses
  that DistributedDataParallel's gradient averaging takes equals the one-process loss (as DETR all-reduces its
  box count);
* batch norm uses global batch statistics (:func:`convert_sync_batchnorm`: torch's ``SyncBatchNorm`` on CUDA,
  :class:`CpuSyncBatchNorm2d` on CPU, where torch's has no kernel).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import Sampler

__all__ = [
    "DistContext",
    "GlobalBatchSampler",
    "CpuSyncBatchNorm2d",
    "convert_sync_batchnorm",
    "resolve_device",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size`` processes, ``local_rank`` on its node;
    ``launched`` when ``torchrun`` started it."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False

    @classmethod
    def from_env(cls) -> DistContext:
        """Read ``torchrun``'s variables; a malformed value is a clear error naming it."""
        values = {}
        for key, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)):
            raw = os.environ.get(key, str(default))
            try:
                values[key] = int(raw)
            except ValueError:
                raise ValueError(f"environment variable {key}={raw!r} is not an integer") from None
        if not 0 <= values["RANK"] < values["WORLD_SIZE"]:
            raise ValueError(f"RANK={values['RANK']} is outside WORLD_SIZE={values['WORLD_SIZE']}")
        launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        return cls(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], launched)

    @property
    def distributed(self) -> bool:
        """Several processes, or one launched by ``torchrun`` (which then still runs the DDP path)."""
        return self.world_size > 1 or self.launched

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def init(self, device: torch.device) -> None:
        """Join the process group (nccl on CUDA, gloo on CPU) unless single-process or already joined."""
        if not self.distributed or dist.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        # rank 0 validates while the others wait at the next collective: allow long validations
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(minutes=60))

    def device_for(self, device: torch.device) -> torch.device:
        """On CUDA each process takes GPU ``local_rank``; CPU stays CPU."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def barrier(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """``obj`` as rank 0 holds it, on every process."""
        if not (self.distributed and dist.is_initialized()):
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, value: Tensor) -> Tensor:
        """Mean of ``value`` over processes (a loss denominator; no gradient flows through it)."""
        if not (self.distributed and dist.is_initialized()):
            return value
        out = value.detach().clone()
        dist.all_reduce(out)
        return out / self.world_size

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


class GlobalBatchSampler(Sampler[list[int]]):
    """Batches of dataset indices: rank ``r`` gets its contiguous slice of every global batch.

    The permutation is ``torch.randperm(n, generator)`` (``shuffle``) or ``range(n)``, exactly as one process
    would batch it; a global batch of ``m`` samples gives rank ``r`` the samples ``[r*m//W, (r+1)*m//W)``. A
    final global batch smaller than the number of processes is dropped (no process may go empty).
    """

    def __init__(
        self,
        n: int,
        batch: int,
        ctx: DistContext = DistContext(),
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if batch < ctx.world_size:
            raise ValueError(f"batch {batch} is smaller than the {ctx.world_size} processes")
        self.n, self.batch, self.ctx, self.shuffle, self.generator = n, batch, ctx, shuffle, generator

    def _global_batches(self) -> list[list[int]]:
        order = torch.randperm(self.n, generator=self.generator).tolist() if self.shuffle else range(self.n)
        order = list(order)
        batches = [order[i : i + self.batch] for i in range(0, self.n, self.batch)]
        if batches and len(batches[-1]) < self.ctx.world_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        r, w = self.ctx.rank, self.ctx.world_size
        for b in self._global_batches():
            yield b[r * len(b) // w : (r + 1) * len(b) // w]

    def __len__(self) -> int:
        full, tail = divmod(self.n, self.batch)
        return full + (1 if tail >= self.ctx.world_size else 0)


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of each input is the sum of the upstream gradients."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        out = grad.contiguous().clone()
        dist.all_reduce(out)
        return out


def _all_reduce_sum(x: Tensor) -> Tensor:
    return _AllReduceSum.apply(x)


class CpuSyncBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of the global batch across processes (CPU/gloo).

    Two-pass (mean, then centred variance) for precision; differentiable through the all-reduce. Outside
    training or without a process group it is an ordinary ``BatchNorm2d`` (same state-dict keys).
    """

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()) or self.momentum is None:
            return super().forward(x)
        c = x.shape[1]
        count = _all_reduce_sum(x.new_tensor([x.numel() / c]).detach())
        mean = _all_reduce_sum(x.sum((0, 2, 3))) / count
        centred = x - mean.view(1, c, 1, 1)
        var = _all_reduce_sum((centred * centred).sum((0, 2, 3))) / count
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                unbiased = var.detach() * count / (count - 1).clamp(min=1)
                self.running_var.mul_(1 - m).add_(unbiased, alpha=m)
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
        y = centred * torch.rsqrt(var + self.eps).view(1, c, 1, 1)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every ``BatchNorm2d`` of ``model`` computes global-batch statistics (in place; returns the model)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            new = CpuSyncBatchNorm2d(
                child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats
            )
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            new.running_mean, new.running_var = child.running_mean, child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(model, name, new)
        else:
            convert_sync_batchnorm(child, device)
    return model


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or a CUDA index; a clear error when CUDA is asked for but absent."""
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available")
    return torch.device(f"cuda:{name}" if name.isdigit() else name)
