"""PatchCore(FPFH) and PatchCore(FPFH+Raw) on point clouds, following the Real3D-AD baselines (repo M-3LAB/Real3D-AD).

0. Every cloud is cut to at most ``max_points`` points by a seeded random choice (`benchkit_components.sampling.subsample_indices`, one draw per sample).
   Real3D-AD computes features on every point (its scans have 40k-2.6M points, hence its 0.1 FPS); FPFH costs
   about 35 us per point on one core, so a 37k-point synthetic-rgbd image took 1.3 s and a 1.6M-point scan a
   minute. Steps 1-4 run on the subsample; every point of the original cloud then takes the score of its nearest
   subsampled point (`benchkit_components.neighbours.spread_to_points`). Radii in ``"spacing"`` units are measured on the subsampled
   first training cloud, so a neighbourhood holds the same number of points whatever ``max_points`` is.
   ``max_points=None`` keeps every point, as the reference does. The default 4,096 leaves synthetic-pc (4,000 /
   3,000 points) untouched and keeps a synthetic-rgbd job near 6 s on one core. Measured on synthetic-rgbd
   ``donut`` (seed 0, same loaded machine, 1 thread): 4,096 points I-AUROC 0.667 / P-AUROC 0.877 in 11.9 s;
   8,192 points 0.889 / 0.887 in 28.6 s (every point: 0.806 / 0.867 in 228 s before this change). Fewer points
   miss small defects: at 1,024, I-AUROC fell to 0.42-0.58.
1. Every cloud (training and test) is rigidly registered onto the first training cloud: RANSAC over FPFH matches
   of voxel-down-sampled copies, then a short ICP (`benchkit_baselines.registration`; deterministic, unlike
   open3d's RANSAC, see there).
2. Per-point FPFH of the registered cloud.
3. Memory bank: PatchCore's approximate greedy coreset of all training features, min(``max_bank``,
   ``coreset_fraction`` x N) of them (Real3D-AD keeps exactly 10,000; the fraction keeps small synthetic sets from
   being stored whole).
4. Point score: squared L2 distance to the nearest bank feature (faiss); object score: the maximum point score.

FPFH+Raw adds a second bank of registered xyz coordinates (same coreset) and averages the two normalized scores.
The reference min-max normalizes each branch over the whole test set of a class; benchkit predicts one sample at a
time, so it cannot. Instead each branch is divided by a scale learnt at fit time: the largest nearest-bank distance
of (a seeded subsample of) the training features. Min-max normalization is affine per branch, so what matters for
the averaged ranking is only the ratio of the two scales; this keeps the scales' roles (the spread of each branch)
without looking at test data.

Organized samples (MVTec 3D-AD style) run the same recipe on their valid points; scores go back onto the pixel
grid through `Sample.scatter` (pixels without a point get the sample's lowest score).

Radii: see `benchkit_baselines.btf.BTF`; ``voxel_size`` (registration) is in the same unit. Real3D-AD's values,
with ``radius_unit="absolute"``: voxel 0.5, normals 1.0, FPFH 2.5 (distance threshold 1.5 x voxel = 0.75).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from benchkit import Detector, Prediction, Sample

from benchkit import rng
from benchkit_components.neighbours import spread_to_points
from benchkit_components.sampling import subsample_indices

from benchkit_baselines.common import Radii, check_same_kind, geometry_of, is_organized, resolve_radii


class PatchCoreFPFH(Detector):
    """PatchCore on per-point FPFH (optionally plus raw xyz) of registered clouds; see the module docstring."""

    def __init__(
        self,
        with_raw: bool = False,
        radius_unit: str = "spacing",
        normal_radius: float = 8.0,
        normal_max_nn: int = 30,
        fpfh_radius: float = 20.0,
        fpfh_max_nn: int = 100,
        voxel_size: float = 4.0,
        register: bool = True,
        max_points: int | None = 4096,
        max_bank: int = 10_000,
        coreset_fraction: float = 0.1,
        projection_dim: int = 128,
        scale_sample: int = 20_000,
        seed: int = 0,
    ) -> None:
        self.with_raw = with_raw
        self.radius_unit = radius_unit
        self.normal_radius = normal_radius
        self.normal_max_nn = normal_max_nn
        self.fpfh_radius = fpfh_radius
        self.fpfh_max_nn = fpfh_max_nn
        self.voxel_size = voxel_size
        self.register = register
        self.max_points = max_points
        self.max_bank = max_bank
        self.coreset_fraction = coreset_fraction
        self.projection_dim = projection_dim
        self.scale_sample = scale_sample
        self.seed = seed

    def _aligned(self, points: np.ndarray) -> np.ndarray:
        from benchkit_baselines.registration import register

        if not self.register:
            return points
        return register(points, self.template_, self.voxel_length_, seed=self.seed)

    def _fpfh(self, points: np.ndarray) -> np.ndarray:
        from benchkit_components.fpfh import fpfh

        return fpfh(points, self.radii_.normal, self.normal_max_nn, self.radii_.fpfh, self.fpfh_max_nn)

    def _bank(self, features: np.ndarray, branch: str):
        """Coreset of ``features`` and the scale used to normalize its distances."""
        from benchkit_components.memory_bank import approximate_greedy_coreset
        from benchkit_components.neighbours import NearestNeighbors

        n = min(self.max_bank, max(1, math.ceil(self.coreset_fraction * len(features))))
        branch_seed = int(rng(self.seed, "coreset", branch).integers(2**31))  # each branch its own stream
        keep = approximate_greedy_coreset(features, n, seed=branch_seed, projection_dim=self.projection_dim)
        bank = NearestNeighbors(features[keep])
        if not self.with_raw:  # only the FPFH+Raw average needs the scale (measured: 0.5 s on a synthetic-rgbd fit)
            return bank, 1.0
        probe = features if len(features) <= self.scale_sample else features[
            rng(self.seed, "scale-probe", branch).choice(len(features), self.scale_sample, replace=False)]
        scale = float(bank.search(probe, k=1)[0].max())
        return bank, scale if scale > 0 else 1.0

    def _subsampled(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        """The sample's full N x 3 cloud and its (at most ``max_points``) subsampled points."""
        points = geometry_of(sample)
        return points, points[subsample_indices(len(points), self.max_points, self.seed, sample.id)]

    def fit(self, samples: Sequence[Sample]) -> PatchCoreFPFH:
        from benchkit_baselines.registration import prepare

        if len(samples) == 0:
            raise ValueError("PatchCore needs at least one training sample")
        _, template = self._subsampled(samples[0])
        self.organized_ = is_organized(samples[0])
        self.radii_: Radii = resolve_radii(self.radius_unit, self.normal_radius, self.fpfh_radius, template)
        self.voxel_length_ = self.radii_.scaled(self.voxel_size)
        self.template_ = prepare(template, self.voxel_length_) if self.register else None

        fpfh_features, xyz_features = [], []
        for i, sample in enumerate(samples):
            check_same_kind(self.organized_, sample)
            # The template (first sample) is its own reference frame; the others are registered onto it.
            points = template if i == 0 else self._aligned(self._subsampled(sample)[1])
            fpfh_features.append(self._fpfh(points))
            if self.with_raw:
                xyz_features.append(points.astype(np.float32))
        self.fpfh_bank_, self.fpfh_scale_ = self._bank(np.concatenate(fpfh_features), "fpfh")
        if self.with_raw:
            self.xyz_bank_, self.xyz_scale_ = self._bank(np.concatenate(xyz_features), "xyz")
        return self

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        predictions = []
        for sample in samples:
            check_same_kind(self.organized_, sample)
            full, subsampled = self._subsampled(sample)
            points = self._aligned(subsampled)
            point_scores = self.fpfh_bank_.search(self._fpfh(points), k=1)[0][:, 0]
            if self.with_raw:
                xyz_scores = self.xyz_bank_.search(points, k=1)[0][:, 0]
                score = (point_scores.max() / self.fpfh_scale_ + xyz_scores.max() / self.xyz_scale_) / 2
                point_scores = (point_scores / self.fpfh_scale_ + xyz_scores / self.xyz_scale_) / 2
            else:
                score = point_scores.max()
            if len(subsampled) < len(full):
                point_scores = spread_to_points(subsampled, point_scores, full)
            anomaly_map = sample.scatter(point_scores) if self.organized_ else point_scores.astype(np.float32)
            predictions.append(Prediction(score=float(score), map=anomaly_map))
        return predictions

    def memory_bank_bytes(self) -> int:
        banks = [getattr(self, name, None) for name in ("fpfh_bank_", "xyz_bank_")]
        return sum(bank.nbytes for bank in banks if bank is not None)
