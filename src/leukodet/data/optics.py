"""Colour and optics augmentation for fields from other labs: stain jitter, defocus blur, JPEG artefacts.

Another lab's films differ from the training lab's in stain batch and timing (colour), focus and optics (blur)
and capture pipeline (compression). Three independent, geometry-free transforms simulate that:

* :func:`hed_jitter` — the stain-colour augmentation of Tellez et al. 2018 (*Whole-slide mitosis detection in
  H&E breast histology using PHH3 as a reference…*, "HED" augmentation): the image is unmixed into stain
  concentrations with the Ruifrok & Johnston (2001) colour-deconvolution vectors, each concentration scaled by
  ``U(1-σ, 1+σ)`` and shifted by ``U(-σ, σ)``, and mixed back. Romanowsky stains (Wright-Giemsa, May-Grünwald)
  are not H&E, but the same physically plausible axes (a blue-violet, a pink and a brown absorber) span their
  batch-to-batch variation; it is an augmentation, not an unmixing.
* :func:`defocus_blur` — Gaussian blur with σ drawn from ``U(0.3, max_sigma)`` pixels.
* :func:`jpeg_artefacts` — a JPEG round trip at a quality drawn from ``[min_quality, 95]``.

:func:`augment_optics` applies each with its configured probability (``augment.hed``, ``augment.blur``,
``augment.jpeg`` in :class:`leukodet.config.AugmentConfig`); a transform whose setting is 0 draws nothing from
the random stream, so runs without them are unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from .sample import Sample

__all__ = ["RUIFROK_HED", "hed_jitter", "defocus_blur", "jpeg_artefacts", "augment_optics"]

RUIFROK_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], np.float64)
"""Rows: optical-density RGB vectors of haematoxylin, eosin and DAB (Ruifrok & Johnston 2001)."""

_MIX = RUIFROK_HED / np.linalg.norm(RUIFROK_HED, axis=1, keepdims=True)
_UNMIX = np.linalg.inv(_MIX)


def hed_jitter(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Tellez et al. 2018 HED augmentation of a ``uint8 HxWx3`` RGB image (see the module docstring)."""
    od = -np.log((image.astype(np.float64) + 1.0) / 256.0)
    conc = od.reshape(-1, 3) @ _UNMIX
    alpha = rng.uniform(1 - sigma, 1 + sigma, 3)
    beta = rng.uniform(-sigma, sigma, 3)
    mixed = (conc * alpha + beta) @ _MIX
    out = 256.0 * np.exp(-mixed) - 1.0
    return np.clip(out, 0, 255).round().astype(np.uint8).reshape(image.shape)


def defocus_blur(image: np.ndarray, rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    """Gaussian blur with σ from ``U(0.3, max_sigma)`` pixels (kernel side ≈ 6σ, odd)."""
    sigma = float(rng.uniform(0.3, max(max_sigma, 0.3)))
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)


def jpeg_artefacts(image: np.ndarray, rng: np.random.Generator, min_quality: int) -> np.ndarray:
    """Encode as JPEG at a quality from ``[min_quality, 95]`` and decode again (RGB kept)."""
    quality = int(rng.integers(min(min_quality, 95), 96))
    ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes every uint8 RGB image
        return image
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def augment_optics(
    sample: Sample,
    rng: np.random.Generator,
    hed: float = 0.0,
    blur: float = 0.0,
    blur_sigma: float = 1.5,
    jpeg: float = 0.0,
    jpeg_quality: int = 40,
) -> Sample:
    """Apply HED jitter (σ ``hed``, always when > 0), blur (probability ``blur``) and JPEG (probability
    ``jpeg``) to the image; boxes, labels and regions are untouched."""
    image = sample.image
    if hed > 0:
        image = hed_jitter(image, rng, hed)
    if blur > 0 and rng.random() < blur:
        image = defocus_blur(image, rng, blur_sigma)
    if jpeg > 0 and rng.random() < jpeg:
        image = jpeg_artefacts(image, rng, jpeg_quality)
    return sample if image is sample.image else sample.with_(image=image)
