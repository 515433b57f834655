"""Acquisition domains: microscope optics (HCM/LCM), magnification scale (100x/40x/10x), camera (C1/C2).

A domain name follows the LLD subsets, ``MICROSCOPE_MAGNIFICATION_CAMERA`` (e.g. ``HCM_100x_C2``).

* Microscope: ``HCM`` (high-cost) has little blur, full contrast, neutral illumination, faint vignetting and
  almost no chromatic fringe; ``LCM`` (low-cost: lower-NA objective, halogen lamp) blurs much more (σ 2.4 px at
  640 px, which wipes out chromatin texture and nucleoli), loses 34 % contrast, lights the film with a
  yellow tint (a halogen lamp without a daylight filter), vignettes strongly and shows a lateral chromatic
  fringe (red and blue channels scaled about the centre). Tuned so that a WBC detector trained on HCM alone
  loses ≈ 30 mAP50 points on LCM: at least the 10 of ``benchmarks/adapt_confmix.py``'s validity rule, about
  the paper's relative drop, and not so wide that its pseudo-labels on LCM are mostly wrong.
* Magnification: every object is scaled by 1.0 / 0.4 / 0.1 relative to 100x, and a field covers
  1 / 0.4² / 0.1² times the area (more cells, see :func:`leukodet.synth.priors.sample_wbc_count`).
* Camera: ``C1`` (phone through the eyepiece) adds a random warm colour cast, strong noise, over-sharpening
  and JPEG compression (quality 60–85); ``C2`` (microscope camera) a faint cast and weak noise, no JPEG.

All of this happens after the cells are drawn, so boxes (tight around the drawn masks) do not include the
optical blur halo (≈ 2σ px) or JPEG ringing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from leukodet.records.vocab import domain_of

__all__ = [
    "Optics",
    "Camera",
    "DomainParams",
    "MAGNIFICATION_SCALE",
    "SQUASH",
    "domain_params",
    "apply_optics",
    "apply_camera",
    "degrade",
]

MAGNIFICATION_SCALE: dict[str, float] = {"100x": 1.0, "40x": 0.4, "10x": 0.1}
"""Object scale relative to the 100x objective."""

SQUASH: float = 0.6
"""Horizontal squash of every object: LLD fields are 16:9 frames resized to a square (cells look taller)."""


@dataclass(frozen=True)
class Optics:
    """Microscope optics: blur σ (px at 640), contrast factor, vignetting depth, chromatic fringe (px),
    illumination RGB gains."""

    blur: float
    contrast: float
    vignette: float
    fringe: float
    illumination: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Camera:
    """Camera: cast spread, mean RGB gains, noise σ (0–255), JPEG quality range or ``None``, sharpening."""

    cast: float
    gains: tuple[float, float, float]
    noise: float
    jpeg: tuple[int, int] | None
    sharpen: float


MICROSCOPES: dict[str, Optics] = {
    "HCM": Optics(blur=0.7, contrast=1.0, vignette=0.05, fringe=0.2),
    "LCM": Optics(blur=2.4, contrast=0.66, vignette=0.26, fringe=1.6, illumination=(1.06, 1.0, 0.84)),
}
CAMERAS: dict[str, Camera] = {
    "C1": Camera(cast=0.05, gains=(1.05, 1.0, 0.9), noise=5.0, jpeg=(60, 85), sharpen=0.6),
    "C2": Camera(cast=0.006, gains=(1.0, 1.0, 1.0), noise=1.2, jpeg=None, sharpen=0.0),
}


@dataclass(frozen=True)
class DomainParams:
    """Everything the renderer needs to know about one domain."""

    name: str
    scale: float
    optics: Optics
    camera: Camera

    @property
    def area_factor(self) -> float:
        """Field area relative to a 100x field (1 / scale²)."""
        return 1.0 / (self.scale * self.scale)


def domain_params(name: str) -> DomainParams:
    """Parameters of an LLD domain name; raises ``ValueError`` for unknown names."""
    d = domain_of(name)
    return DomainParams(
        name,
        MAGNIFICATION_SCALE[str(d.magnification)],
        MICROSCOPES[str(d.microscope)],
        CAMERAS[str(d.camera)],
    )


def _scale_channel(ch: np.ndarray, factor: float) -> np.ndarray:
    """Scale one channel about the image centre (lateral chromatic aberration)."""
    h, w = ch.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), 0.0, factor)
    return cv2.warpAffine(ch, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def apply_optics(
    rgb: np.ndarray, optics: Optics, rng: np.random.Generator, px: float | None = None
) -> np.ndarray:
    """Blur, chromatic fringe, contrast loss, illumination tint and vignetting of a float RGB image (0–255).

    ``px`` is the image's pixels per reference (640-px field) pixel; default ``max(h, w) / 640``.
    """
    h, w = rgb.shape[:2]
    px = max(h, w) / 640.0 if px is None else px
    out = rgb
    if optics.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), optics.blur * px * rng.uniform(0.85, 1.15))
    if optics.fringe > 0:
        f = optics.fringe * px / (max(h, w) / 2.0)
        red, blue = _scale_channel(out[..., 0], 1 + f), _scale_channel(out[..., 2], 1 - f)
        out = np.stack([red, out[..., 1], blue], -1)
    mean = out.reshape(-1, 3).mean(0)
    out = (mean + optics.contrast * (out - mean)) * np.asarray(optics.illumination, np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = (w - 1) / 2 + rng.normal(0, 0.05 * w), (h - 1) / 2 + rng.normal(0, 0.05 * h)
    rr = ((xx - cx) ** 2 + (yy - cy) ** 2) / (0.5 * (h * h + w * w) / 2)
    return out * (1.0 - optics.vignette * rr)[..., None]


def apply_camera(rgb: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Colour cast, sharpening, noise, quantisation and (C1) JPEG round trip; returns uint8 RGB."""
    gains = np.array(camera.gains, np.float32) * (1.0 + rng.normal(0, camera.cast, 3)).astype(np.float32)
    out = rgb * gains
    if camera.sharpen > 0:
        out = out + camera.sharpen * (out - cv2.GaussianBlur(out, (0, 0), 1.2))
    out = out + rng.normal(0, camera.noise, out.shape).astype(np.float32)
    img = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if camera.jpeg is not None:
        q = int(rng.integers(camera.jpeg[0], camera.jpeg[1] + 1))
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return img


def degrade(
    rgb: np.ndarray, params: DomainParams, rng: np.random.Generator, px: float | None = None
) -> np.ndarray:
    """Apply the domain's optics then camera to a float RGB field; returns uint8 RGB (``px``: see optics)."""
    return apply_camera(apply_optics(rgb.astype(np.float32), params.optics, rng, px), params.camera, rng)
