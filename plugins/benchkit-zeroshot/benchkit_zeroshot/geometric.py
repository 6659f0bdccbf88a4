"""Weight-free detectors that score each test cloud against itself, so zero-shot settings are measured on any machine.

Neither reads its training samples: a defect is what is rare or irregular *within* the cloud under test, which is
the one assumption a zero-shot method can make without a model of the category. Both work on every point of an
unorganized cloud or the valid points of an organized scan (a seeded subsample of at most ``max_points``, scores
spread back to every point by nearest neighbour), average each point's score with its ``smooth_k`` nearest
neighbours', and score the object by the mean of its top ``top_fraction`` point scores (a max robust to one spike).
Radii are in multiples of the cloud's own mean point spacing, so one setting serves millimetre and metre data.

A cloud's point scores depend on nothing but the cloud and the parameters (the subsample is drawn from a digest of
the coordinates, not from the sample's id, which the harness makes opaque and different in every job), so they go
through the feature cache: a test scan that several zero-shot jobs score (each one-vs-rest training category, each
cross-dataset source) is scored once. Latency is recorded as if uncached, as for every cached feature.

- ``zs-fpfh-rarity``: FPFH of every point; a point's score is the FPFH distance to its nearest match *outside* its own
  neighbourhood (farther than ``exclusion_spacings`` point spacings): a patch of the surface that resembles nothing
  elsewhere on the object scores high, even when its own points resemble each other.
- ``zs-surface-deviation``: distance of each point from the plane fitted (least squares) to its ``k`` nearest
  neighbours, over the cloud's median: bumps, dents, cracks and hole rims stand out of a smooth surface.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from benchkit import Detector, Prediction, Sample, cached_features

from benchkit_zeroshot.plugin import GEOMETRIC_VERSION


class WithinCloudDetector(Detector):
    """Shared frame: subsample, score points (`point_scores`), smooth, spread back, object score from the top."""

    def __init__(self, max_points: int | None = 8000, smooth_k: int = 16, top_fraction: float = 0.01,
                 seed: int = 0) -> None:
        self.max_points = max_points
        self.smooth_k = smooth_k
        self.top_fraction = top_fraction
        self.seed = seed

    def fit(self, samples: Sequence[Sample]) -> WithinCloudDetector:
        if not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {self.top_fraction}")
        return self  # training-free: nothing is learned from the training samples

    def point_scores(self, points: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        scorer = _CloudScores(self)
        out = []
        for sample in samples:
            full = cached_features(scorer, np.asarray(sample.point_cloud(), dtype=np.float64))
            top = np.sort(full)[-max(1, int(round(self.top_fraction * len(full)))):]
            out.append(Prediction(float(top.mean()), sample.scatter(full)))
        return out

    def cloud_scores(self, points: np.ndarray) -> np.ndarray:
        """Smoothed scores of every point of ``points`` (subsampled, scored, spread back)."""
        from benchkit_components.groups import smooth_scores
        from benchkit_components.neighbours import spread_to_points
        from benchkit_components.sampling import subsample_indices

        digest = hashlib.blake2b(np.ascontiguousarray(points).tobytes(), digest_size=16).hexdigest()
        sub = points[subsample_indices(len(points), self.max_points, self.seed, digest)]
        scores = smooth_scores(sub, self.point_scores(sub), self.smooth_k)
        return scores if len(sub) == len(points) else spread_to_points(sub, scores, points)


class _CloudScores:
    """A within-cloud detector's point scoring as a frozen feature of the feature cache: its identity is the
    detector's class, version and parameters (``top_fraction`` left out: it acts after the cached scores)."""

    device = "cpu"

    def __init__(self, detector: WithinCloudDetector) -> None:
        self.detector = detector
        params = {k: v for k, v in detector.get_params().items() if k != "top_fraction"}
        self.identity = {"name": f"benchkit_zeroshot.{type(detector).__name__}", "version": GEOMETRIC_VERSION,
                         "weights": "none", "sha256": None, "params": params}

    def encode(self, points: np.ndarray) -> np.ndarray:
        return self.detector.cloud_scores(points)


class FPFHRarity(WithinCloudDetector):
    def __init__(self, normal_radius_spacings: float = 4.0, fpfh_radius_spacings: float = 10.0,
                 exclusion_spacings: float = 8.0, candidates: int = 64, max_points: int | None = 8000,
                 smooth_k: int = 16, top_fraction: float = 0.01, seed: int = 0) -> None:
        super().__init__(max_points=max_points, smooth_k=smooth_k, top_fraction=top_fraction, seed=seed)
        self.normal_radius_spacings = normal_radius_spacings
        self.fpfh_radius_spacings = fpfh_radius_spacings
        self.exclusion_spacings = exclusion_spacings
        self.candidates = candidates

    def point_scores(self, points: np.ndarray) -> np.ndarray:
        from benchkit_components.fpfh import fpfh, mean_spacing
        from benchkit_components.neighbours import NearestNeighbors

        spacing = mean_spacing(points)
        features = fpfh(points, self.normal_radius_spacings * spacing, 30, self.fpfh_radius_spacings * spacing, 100)
        # FPFH's three 11-bin histograms each sum to 100: as distributions, flat and curved regions compare fairly
        features = features / np.maximum(features.sum(axis=1, keepdims=True), 1e-9)
        distances, matches = NearestNeighbors(features).search(features, self.candidates)
        far = np.linalg.norm(points[matches] - points[:, None], axis=-1) > self.exclusion_spacings * spacing
        first = np.where(far.any(axis=1), far.argmax(axis=1), matches.shape[1] - 1)
        return np.sqrt(distances[np.arange(len(points)), first]).astype(np.float32)


class SurfaceDeviation(WithinCloudDetector):
    def __init__(self, k: int = 32, max_points: int | None = 8000, smooth_k: int = 16, top_fraction: float = 0.01,
                 seed: int = 0) -> None:
        super().__init__(max_points=max_points, smooth_k=smooth_k, top_fraction=top_fraction, seed=seed)
        self.k = k

    def point_scores(self, points: np.ndarray) -> np.ndarray:
        from benchkit_components.neighbours import knn

        _, neighbours = knn(points, points, self.k)
        local = points[neighbours]
        centre = local.mean(axis=1)
        spread = local - centre[:, None]
        _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", spread, spread))
        normal = vectors[:, :, 0]  # the direction of least spread: the local plane's normal
        deviation = np.abs(np.einsum("ni,ni->n", points - centre, normal))
        return (deviation / max(float(np.median(deviation)), 1e-12)).astype(np.float32)
