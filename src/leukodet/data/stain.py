"""Stain / colour normalisation of blood-film images: Reinhard and Macenko (``train.stain_norm``).

Both map an image's colours onto a reference fitted once on the training images, at train and at test time,
so a film stained or photographed differently looks like the training films to the model.

* **Reinhard** (Reinhard et al., *Color transfer between images*, IEEE CG&A 2001): per channel of CIELAB,
  subtract the image's mean, scale by the reference's standard deviation over the image's, add the
  reference's mean.
* **Macenko** (Macenko et al., *A method for normalizing histology slides for quantitative analysis*, ISBI
  2009): optical density ``OD = -log((I + 1) / I0)``; pixels with OD above ``beta`` in every channel; the plane
  of the two largest eigenvectors of their OD covariance; the two stain vectors at the ``alpha`` and
  ``100 - alpha`` percentiles of the angle in that plane; per-pixel stain concentrations by least squares;
  concentrations rescaled so their 99th percentiles match the reference's, and recomposed with the reference's
  stain vectors. Romanowsky stains of blood films (eosin and azure / methylene blue) are two-stain mixtures as
  H&E is, which is what the method assumes.

A :class:`StainNormalizer` is plain data (``to_dict`` / ``from_dict``) so the fitted reference travels in the
checkpoint metadata and prediction applies the same mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

__all__ = [
    "METHODS",
    "StainNormalizer",
    "macenko_normalize",
    "macenko_stains",
    "reinhard_normalize",
    "reinhard_stats",
    "fit_on_records",
]

METHODS: tuple[str, ...] = ("none", "reinhard", "macenko")

I0 = 255.0
"""Transmitted light intensity (Macenko's ``I0``)."""


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def reinhard_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel CIELAB mean and standard deviation of an RGB ``uint8`` image (Reinhard 2001)."""
    lab = _lab(image).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


def reinhard_normalize(image: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer of ``image`` to the reference ``mean`` / ``std`` (CIELAB); RGB ``uint8`` out."""
    lab = _lab(image)
    own_mean, own_std = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0)
    lab = (lab - own_mean) * (np.asarray(std) / np.maximum(own_std, 1e-6)) + np.asarray(mean)
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _optical_density(image: np.ndarray) -> np.ndarray:
    return -np.log((image.reshape(-1, 3).astype(np.float64) + 1.0) / I0)


def macenko_stains(
    image: np.ndarray, alpha: float = 1.0, beta: float = 0.15
) -> tuple[np.ndarray, np.ndarray] | None:
    """Macenko (2009) stain matrix ``[3, 2]`` (unit OD vectors, columns) and the 99th-percentile
    concentration of each stain; ``None`` when too few pixels carry stain to estimate them."""
    od = _optical_density(image)
    tissue = od[(od > beta).all(1)]
    if len(tissue) < 16:
        return None
    _, vecs = np.linalg.eigh(np.cov(tissue.T))
    plane = vecs[:, [1, 2]]  # the two largest eigenvectors
    plane = plane * np.sign(plane[0:1, :] + 1e-12)  # orient them into positive OD
    proj = tissue @ plane
    phi = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(phi, [alpha, 100 - alpha])
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    stains = np.stack([v1, v2], 1) if v1[0] >= v2[0] else np.stack([v2, v1], 1)
    stains = stains / np.linalg.norm(stains, axis=0, keepdims=True)
    conc = np.linalg.lstsq(stains, od.T, rcond=None)[0]
    return stains, np.percentile(conc, 99, axis=1)


def macenko_normalize(
    image: np.ndarray, stains: np.ndarray, max_conc: np.ndarray, alpha: float = 1.0, beta: float = 0.15
) -> np.ndarray:
    """Macenko normalisation of ``image`` to the reference ``stains`` / ``max_conc``; an image without
    enough stain to estimate its own vectors is returned unchanged."""
    own = macenko_stains(image, alpha, beta)
    if own is None:
        return image
    own_stains, own_max = own
    conc = np.linalg.lstsq(own_stains, _optical_density(image).T, rcond=None)[0]
    conc *= (np.asarray(max_conc) / np.maximum(own_max, 1e-6))[:, None]
    out = I0 * np.exp(-(np.asarray(stains) @ conc)) - 1.0
    return np.clip(out.T.reshape(image.shape) + 0.5, 0, 255).astype(np.uint8)


@dataclass
class StainNormalizer:
    """A fitted normaliser: ``method`` and its reference (``mean``/``std`` or ``stains``/``max_conc``)."""

    method: str = "none"
    reference: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def fit(cls, method: str, images: Sequence[np.ndarray]) -> StainNormalizer:
        """The reference of ``images`` (the median over images of each statistic)."""
        if method not in METHODS:
            raise ValueError(f"stain normalisation: expected one of {', '.join(METHODS)}, got {method!r}")
        if method == "none" or not images:
            return cls("none")
        if method == "reinhard":
            stats = [reinhard_stats(im) for im in images]
            mean = np.median([m for m, _ in stats], 0)
            std = np.median([s for _, s in stats], 0)
            return cls(method, {"mean": mean.tolist(), "std": std.tolist()})
        found = [s for s in (macenko_stains(im) for im in images) if s is not None]
        if not found:
            raise ValueError("stain normalisation: no training image has enough stain for Macenko's method")
        stains = np.median([s for s, _ in found], 0)
        stains /= np.linalg.norm(stains, axis=0, keepdims=True)
        max_conc = np.median([c for _, c in found], 0)
        return cls(method, {"stains": stains.tolist(), "max_conc": max_conc.tolist()})

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The normalised RGB ``uint8`` image (the image itself for ``none``)."""
        if self.method == "reinhard":
            return reinhard_normalize(
                image, np.array(self.reference["mean"]), np.array(self.reference["std"])
            )
        if self.method == "macenko":
            return macenko_normalize(
                image, np.array(self.reference["stains"]), np.array(self.reference["max_conc"])
            )
        return image

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "reference": self.reference}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> StainNormalizer:
        """From checkpoint metadata (``None`` or absent → no normalisation)."""
        if not d:
            return cls("none")
        if d.get("method") not in METHODS:
            raise ValueError(f"stain normalisation: unknown method {d.get('method')!r} in the checkpoint")
        return cls(str(d["method"]), dict(d.get("reference") or {}))


def fit_on_records(method: str, records: Sequence[Any], count: int, max_side: int) -> StainNormalizer:
    """Fit ``method`` on up to ``count`` images spread evenly over ``records`` (decoded at ``max_side``)."""
    from .dataset import load_image

    if method == "none" or not records:
        return StainNormalizer("none")
    picks = np.unique(np.linspace(0, len(records) - 1, min(count, len(records))).round().astype(int))
    return StainNormalizer.fit(method, [load_image(str(records[i].path), max_side) for i in picks])
