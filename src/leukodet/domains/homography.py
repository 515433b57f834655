"""Image-to-image homography from SIFT features: Lowe's ratio test, RANSAC, and a reliability verdict.

Keypoints are found on grey images (larger images are first shrunk so their longer side is at most
``max_side``; points are scaled back). The homography is estimated in pixel-centre coordinates (those of
OpenCV and of keypoints) and returned in leukodet's box convention, pixel edges (``x2`` = last column + 1),
so boxes map with it directly: ``H_edge = T(+½) · H_centre · T(−½)``. At a magnification ratio of 2.5 the
half-pixel difference alone would move a box by 0.75 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "AFFINE_F",
    "EstimateParams",
    "Estimate",
    "detect_features",
    "ratio_matches",
    "estimate_homography",
    "reliability_problem",
    "centre_to_edge",
    "local_similarity",
]


AFFINE_F: float = 3.0
"""F statistic below which the affine map replaces the homography (≈ the 95 % point of F(2, 30+))."""


@dataclass(frozen=True)
class EstimateParams:
    """Thresholds of estimation and of the reliability verdict (defaults: docs/domains.md).

    Attributes:
        ratio: Lowe's ratio test: keep a match if its distance < ``ratio`` × the second-best distance.
        ransac_px: RANSAC inlier threshold (target pixels); looser than ``max_rmse_px`` so the RMSE test bites.
        min_inliers: fewer RANSAC inliers than this and the pair is refused.
        max_rmse_px: inlier reprojection RMSE (target pixels) above this and the pair is refused.
        max_side: images with a longer side are shrunk to it for feature detection (speed).
        max_features: keypoints kept per image (strongest first); 0 = all.
        contrast: SIFT contrast threshold (OpenCV's default is 0.04; lower finds keypoints on pale, blurred
            fields such as BCCD's).
        max_scale_change: a map whose local scale (at the source centre) is outside
            ``[1 / max_scale_change, max_scale_change]``, or that mirrors the image, is refused as degenerate.
    """

    ratio: float = 0.75
    ransac_px: float = 5.0
    min_inliers: int = 15
    max_rmse_px: float = 3.0
    max_side: int = 2000
    max_features: int = 8000
    contrast: float = 0.01
    max_scale_change: float = 20.0


@dataclass(frozen=True)
class Estimate:
    """Result of :func:`estimate_homography`.

    Attributes:
        homography: 3×3 source → target map in box (pixel-edge) coordinates, or ``None`` if none was found.
        keypoints: keypoints found in (source, target).
        matches: matches passing the ratio test.
        inliers: RANSAC inliers among them.
        rmse_px: root-mean-square reprojection error of the inliers, target pixels (``inf`` when none).
        source_points, target_points: the inlier correspondences (N×2, pixel-centre coordinates).
        source_size: ``(width, height)`` of the source image.
        model: ``affine`` when the perspective terms were not significant (see :func:`_prefer_affine`),
            else ``homography``.
    """

    homography: np.ndarray | None
    keypoints: tuple[int, int]
    matches: int
    inliers: int
    rmse_px: float
    source_points: np.ndarray
    target_points: np.ndarray
    source_size: tuple[int, int] = (0, 0)
    model: str = "homography"

    @property
    def inlier_ratio(self) -> float:
        """Inliers / ratio-test matches (0 when there are no matches)."""
        return self.inliers / self.matches if self.matches else 0.0


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image if image.dtype == np.uint8 else cv2.convertScaleAbs(image)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY)


def detect_features(image: np.ndarray, params: EstimateParams) -> tuple[np.ndarray, np.ndarray | None]:
    """SIFT keypoints (N×2 pixel-centre coordinates of ``image``) and descriptors (N×128, or ``None``)."""
    grey = _grey(image)
    s = min(1.0, params.max_side / max(grey.shape[:2]))
    if s < 1.0:
        size = (max(1, round(grey.shape[1] * s)), max(1, round(grey.shape[0] * s)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    sift = cv2.SIFT_create(
        nfeatures=params.max_features, contrastThreshold=params.contrast, enable_precise_upscale=True
    )
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    pts = np.array([kp.pt for kp in keypoints], np.float64).reshape(-1, 2)
    return (pts + 0.5) / s - 0.5, descriptors


def ratio_matches(a: np.ndarray | None, b: np.ndarray | None, ratio: float) -> np.ndarray:
    """Index pairs ``(i in a, j in b)`` whose best match beats the second best by Lowe's ``ratio`` (K×2).

    When several keypoints of ``a`` pick the same keypoint of ``b``, only the closest is kept: otherwise
    RANSAC can "explain" a pile of matches onto one point with a map that collapses the image (seen on
    fields full of look-alike platelets).
    """
    if a is None or b is None or len(a) < 1 or len(b) < 2:
        return np.zeros((0, 2), np.int64)
    best: dict[int, tuple[float, int]] = {}
    for m in cv2.BFMatcher(cv2.NORM_L2).knnMatch(a, b, k=2):
        if len(m) == 2 and m[0].distance < ratio * m[1].distance:
            j = m[0].trainIdx
            if j not in best or m[0].distance < best[j][0]:
                best[j] = (m[0].distance, m[0].queryIdx)
    return np.array(sorted((i, j) for j, (_, i) in best.items()), np.int64).reshape(-1, 2)


def centre_to_edge(h: np.ndarray) -> np.ndarray:
    """Convert a homography between pixel-centre coordinates to one between pixel-edge (box) coordinates."""
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    out = shift @ h @ back
    return out / out[2, 2]


def _sum_sq(h: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    """Sum of squared reprojection errors of ``src`` → ``dst`` under ``h``."""
    proj = cv2.perspectiveTransform(src.reshape(-1, 1, 2), h).reshape(-1, 2)
    return float(np.sum((proj - dst) ** 2))


def _reprojection_rmse(h: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    return math.sqrt(_sum_sq(h, src, dst) / len(src)) if len(src) else math.inf


def _prefer_affine(h: np.ndarray, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, str]:
    """``h``, or the least-squares affine map of the inliers when the perspective terms are not significant.

    Views of a flat film through a microscope differ by scale, rotation and shift; the two perspective terms
    of a homography then fit noise, which shows far from the matches (a magnified patch's corners moved by up
    to 2 px on BCCD fields, against 0.2 px with the affine map). The test is an F test of the residual sums of
    squares (2 extra parameters, ``2N - 8`` degrees of freedom, F < :data:`AFFINE_F`), so real perspective
    (a tilted camera) keeps the homography.
    """
    dof = 2 * len(src) - 8
    if dof <= 0:
        return h, "homography"
    design = np.hstack([src, np.ones((len(src), 1))])
    coef, *_ = np.linalg.lstsq(design, dst, rcond=None)
    affine = np.vstack([coef.T, [0.0, 0.0, 1.0]])
    rss_h, rss_a = _sum_sq(h, src, dst), _sum_sq(affine, src, dst)
    f = (rss_a - rss_h) / 2.0 / max(rss_h / dof, 1e-12)
    return (affine, "affine") if f < AFFINE_F else (h, "homography")


def estimate_homography(
    source: np.ndarray, target: np.ndarray, params: EstimateParams | None = None
) -> Estimate:
    """Estimate the source → target homography of two RGB (or grey) images with SIFT + ratio test + RANSAC.

    Deterministic (OpenCV's RNG is seeded). Never raises for unrelated or blank images: the returned
    :class:`Estimate` then has few inliers (see :func:`reliability_problem`).
    """
    params = params or EstimateParams()
    pts_a, desc_a = detect_features(source, params)
    pts_b, desc_b = detect_features(target, params)
    pairs = ratio_matches(desc_a, desc_b, params.ratio)
    empty = np.zeros((0, 2))
    size = (int(source.shape[1]), int(source.shape[0]))
    none = Estimate(None, (len(pts_a), len(pts_b)), len(pairs), 0, math.inf, empty, empty, size)
    if len(pairs) < 4:
        return none
    src, dst = pts_a[pairs[:, 0]], pts_b[pairs[:, 1]]
    cv2.setRNGSeed(0)
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, params.ransac_px, maxIters=5000, confidence=0.999)
    if h is None or not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return none
    keep = mask.ravel().astype(bool)
    h, model = _prefer_affine(h, src[keep], dst[keep])
    rmse = _reprojection_rmse(h, src[keep], dst[keep])
    counts = (len(pts_a), len(pts_b))
    inliers = int(keep.sum())
    return Estimate(centre_to_edge(h), counts, len(pairs), inliers, rmse, src[keep], dst[keep], size, model)


def reliability_problem(est: Estimate, params: EstimateParams | None = None) -> str | None:
    """Why ``est`` must not be used (one sentence), or ``None`` when it passes both thresholds."""
    params = params or EstimateParams()
    if est.homography is None or est.inliers < params.min_inliers:
        return (
            f"only {est.inliers} RANSAC inliers among {est.matches} ratio-test matches "
            f"(at least {params.min_inliers} needed): the images do not show the same area reliably"
        )
    degenerate = _degeneracy(est.homography, est.source_size, params.max_scale_change)
    if degenerate is not None:
        return f"degenerate homography: {degenerate}"
    if not est.rmse_px <= params.max_rmse_px:
        return (
            f"inlier reprojection RMSE {est.rmse_px:.2f} px exceeds {params.max_rmse_px:g} px: "
            "the images are not related by one homography"
        )
    return None


def _jacobian(h: np.ndarray, at: tuple[float, float]) -> np.ndarray:
    """2×2 derivative of the map ``h`` at the point ``at``."""
    u, v, w = h @ np.array([at[0], at[1], 1.0])
    return (h[:2, :2] * w - np.outer([u, v], h[2, :2])) / (w * w)


def _degeneracy(h: np.ndarray, size: tuple[int, int], max_scale: float) -> str | None:
    """Why ``h`` cannot be a view change of a ``size`` source (mirror, fold, collapse, horizon), or ``None``."""
    w, hh = size if size[0] > 0 else (2, 2)
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, hh, 1], [0, hh, 1]], np.float64) @ h.T
    if np.any(corners[:, 2] <= 1e-12):
        return "part of the source maps through the horizon"
    quad = (corners[:, :2] / corners[:, 2:]).astype(np.float32)
    centre = (w / 2, hh / 2)
    if np.linalg.det(_jacobian(h, centre)) <= 0:
        return "it mirrors the image"
    scale, _ = local_similarity(h, centre)
    if not 1.0 / max_scale <= scale <= max_scale:
        return f"local scale {scale:.3g} is outside [1/{max_scale:g}, {max_scale:g}]"
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return "it folds the source image"
    return None


def local_similarity(h: np.ndarray, at: tuple[float, float]) -> tuple[float, float]:
    """Scale (target px per source px, √|det J|) and rotation (degrees, clockwise on screen since image y
    points down) of ``h`` near the source point ``at``, from its Jacobian there."""
    jac = _jacobian(h, at)
    scale = math.sqrt(abs(float(np.linalg.det(jac))))
    rotation = math.degrees(math.atan2(jac[1, 0] - jac[0, 1], jac[0, 0] + jac[1, 1]))
    return scale, rotation
