"""BTF(Raw) and BTF(FPFH): Horwitz & Hoshen, "Back to the Feature: Classical 3D Features are (Almost) All You Need
for 3D Anomaly Detection" (CVPR-W 2023), weight-free.

Organized samples (``sample.xyz``, MVTec 3D-AD style), the BTF recipe:

1. the organized cloud is resized to 224 x 224 with nearest sampling (so is its valid mask);
2. features: FPFH of the valid points laid out as 33 x 224 x 224 (no point, zero feature), pooled by a 3 x 3
   average (stride 1) and an adaptive average to 28 x 28 (784 patches); or, for Raw, the 224 x 224 depth (z, zero
   where there is no point) reshaped to 784 patches of 64 consecutive row-major pixels (a patch is a run of 64
   pixels along a row, not an 8 x 8 block: this is what the reference does);
3. memory bank: all training patches, reduced by a greedy coreset to 10 % (after a sparse random projection with
   eps 0.9 when that shrinks the features, which it does not for 33-d or 64-d patches);
4. image score: PatchCore's re-weighted maximum of the patches' nearest-neighbour distances; map: the 28 x 28
   distances, bilinear up to 224 x 224, Gaussian blur sigma 4. The reference blurs an 8-bit quantized copy through
   PIL; benchkit blurs the float map with scipy (edges: nearest), so it loses no resolution.

Unorganized samples (``sample.points``, Real3D-AD style), the Real3D-AD recipe for BTF: per-point FPFH (or the raw
xyz coordinates), the bank holds every k-th training point's feature (no coreset), the queries are every m-th test
point, the image score is the re-weighted maximum as above and the sampled points' distances are spread to every
point by 1-NN in space. Real3D-AD uses k = 100, m = 500 on clouds of 40k-2.6M points; ``train_stride`` /
``test_stride`` = "auto" scale them to the data: the first training cloud's size divided by 5,000 and 1,000, which
gives about 100 and 500 on a 500k-point scan and 1 and 2 on a 2k-point synthetic cloud.

``max_points`` (default 4,096): FPFH is computed on at most this many points of a cloud, a seeded random choice
(`benchkit_components.sampling.subsample_indices`, one draw per sample); every other point (organized: every valid pixel of the 224 x 224 grid) takes the
feature of its nearest chosen point. FPFH costs about 22 us per point on one core, and an organized 224 x 224
image holds up to 50k points, so the full recipe spends over a second per image; the patch features are 8 x 8
averages of 3 x 3 averages, so they change little when neighbouring pixels share a feature. With
``radius_unit="spacing"`` the radii are measured on the subsample, so a neighbourhood keeps its point count (and
covers a wider area). ``max_points=None`` runs the reference recipe on every point. Raw features need no FPFH and
ignore it.

The reference builds a pretrained WideResNet-50 even for these variants; benchkit does not. The reference's
preprocessing (background-plane removal, largest DBSCAN cluster) belongs to the data: the organized datasets'
``remove_background`` option does it; benchkit's synthetic-rgbd keeps its background plane.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from benchkit import Detector, Prediction, Sample

from benchkit_components.neighbours import spread_to_points
from benchkit_components.sampling import subsample_indices

from benchkit_baselines.common import Radii, check_same_kind, geometry_of, is_organized, resolve_radii

FEATURE_KINDS = ("fpfh", "raw")


def raw_depth_patches(depth: np.ndarray, grid: int = 28) -> np.ndarray:
    """BTF(Raw)'s patches: the S x S depth image flattened row-major and cut into grid x grid patches of
    S*S/grid^2 consecutive pixels (224 x 224 -> 784 x 64)."""
    size = depth.size
    if size % (grid * grid):
        raise ValueError(f"depth image of {depth.shape} does not split into {grid} x {grid} equal patches")
    return np.ascontiguousarray(depth, dtype=np.float32).reshape(grid * grid, size // (grid * grid))


def pooled_patches(feature_image: np.ndarray, grid: int = 28) -> np.ndarray:
    """BTF's patch features from a C x H x W feature image: 3 x 3 average pooling (stride 1, no padding), adaptive
    average pooling to grid x grid, one row per patch (grid^2 x C, row-major over the grid)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(feature_image, dtype=np.float32))[None]
    x = F.adaptive_avg_pool2d(F.avg_pool2d(x, kernel_size=3, stride=1), (grid, grid))
    return x[0].reshape(x.shape[1], -1).T.contiguous().numpy()


def upsample_and_blur(patch_scores: np.ndarray, grid: int, size: int, sigma: float) -> np.ndarray:
    """grid^2 patch scores -> size x size map: bilinear (align_corners=False, as torch's default) then a float
    Gaussian blur."""
    import torch
    import torch.nn.functional as F
    from scipy.ndimage import gaussian_filter

    x = torch.from_numpy(np.asarray(patch_scores, dtype=np.float32).reshape(1, 1, grid, grid))
    up = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()
    return gaussian_filter(up, sigma=sigma, mode="nearest") if sigma > 0 else up


def strided(n_points: int, stride: int) -> np.ndarray:
    """Indices 0, stride, 2*stride, ... below (n // stride) * stride, as the Real3D-AD scripts pick them (at least one)."""
    count = max(1, n_points // stride)
    return np.arange(count) * stride


class BTF(Detector):
    """BTF with raw geometry or FPFH features; organized and unorganized clouds (see the module docstring).

    Radii: ``radius_unit="spacing"`` (default) reads ``normal_radius`` / ``fpfh_radius`` as multiples of the first
    training cloud's mean nearest-neighbour spacing (8 and 20: wide enough that the 30 / 100 neighbour caps bind,
    as they do with BTF's radii 0.1 / 0.25 on MVTec 3D-AD and Real3D-AD's 1.0 / 2.5, so the same detector runs on
    clouds of any scale); ``"absolute"`` takes them in the cloud's units (BTF on MVTec 3D-AD: 0.1 and 0.25;
    Real3D-AD: 1.0 and 2.5). The resolved lengths are kept in ``radii_`` after fitting.
    """

    def __init__(
        self,
        features: str = "fpfh",
        image_size: int = 224,
        patch_grid: int = 28,
        coreset_fraction: float = 0.1,
        coreset_eps: float = 0.9,
        n_reweight: int = 3,
        blur_sigma: float = 4.0,
        radius_unit: str = "spacing",
        normal_radius: float = 8.0,
        normal_max_nn: int = 30,
        fpfh_radius: float = 20.0,
        fpfh_max_nn: int = 100,
        train_stride: int | str = "auto",
        test_stride: int | str = "auto",
        max_points: int | None = 4096,
        seed: int = 0,
    ) -> None:
        self.features = features
        self.image_size = image_size
        self.patch_grid = patch_grid
        self.coreset_fraction = coreset_fraction
        self.coreset_eps = coreset_eps
        self.n_reweight = n_reweight
        self.blur_sigma = blur_sigma
        self.radius_unit = radius_unit
        self.normal_radius = normal_radius
        self.normal_max_nn = normal_max_nn
        self.fpfh_radius = fpfh_radius
        self.fpfh_max_nn = fpfh_max_nn
        self.train_stride = train_stride
        self.test_stride = test_stride
        self.max_points = max_points
        self.seed = seed

    # -- features -------------------------------------------------------------------------------------------------
    def _fpfh_params(self) -> dict:
        return dict(normal_radius=self.radii_.normal, normal_max_nn=self.normal_max_nn,
                    fpfh_radius=self.radii_.fpfh, fpfh_max_nn=self.fpfh_max_nn)

    def _resized(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        from benchkit_components.grid import resize_nearest

        return resize_nearest(sample.xyz, self.image_size), resize_nearest(sample.valid, self.image_size)

    def _fpfh_subsampled(self, points: np.ndarray, key: str) -> np.ndarray:
        """Per-point FPFH of ``points``, computed on at most ``max_points`` of them (drawn from the stream of
        sample ``key``) and spread by nearest point."""
        from benchkit_components.fpfh import fpfh

        chosen = subsample_indices(len(points), self.max_points, self.seed, key)
        features = fpfh(points[chosen], **self._fpfh_params())
        return features if len(chosen) == len(points) else spread_to_points(points[chosen], features, points)

    def _organized_patches(self, sample: Sample) -> np.ndarray:
        from benchkit_components.fpfh import FPFH_DIM

        xyz, valid = self._resized(sample)
        if self.features == "raw":
            return raw_depth_patches(np.where(valid, xyz[..., 2], 0.0), self.patch_grid)
        image = np.zeros(valid.shape + (FPFH_DIM,), dtype=np.float32)  # no point, zero feature
        image[valid] = self._fpfh_subsampled(xyz[valid].astype(np.float64), sample.id)
        return pooled_patches(image.transpose(2, 0, 1), self.patch_grid)

    def _point_features(self, points: np.ndarray, key: str) -> np.ndarray:
        if self.features == "raw":
            return points.astype(np.float32)
        return self._fpfh_subsampled(points, key)

    # -- fit / predict --------------------------------------------------------------------------------------------
    def fit(self, samples: Sequence[Sample]) -> BTF:
        from benchkit_components.memory_bank import greedy_coreset, reduce_for_coreset
        from benchkit_components.neighbours import NearestNeighbors

        if self.features not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {FEATURE_KINDS}, got {self.features!r}")
        if len(samples) == 0:
            raise ValueError("BTF needs at least one training sample")
        first = samples[0]
        self.organized_ = is_organized(first)
        if self.organized_:
            xyz, valid = self._resized(first)
            reference = xyz[valid]
        else:
            reference = geometry_of(first)
            n_first = len(reference)
            self.train_stride_ = max(1, n_first // 5000) if self.train_stride == "auto" else int(self.train_stride)
            self.test_stride_ = max(1, n_first // 1000) if self.test_stride == "auto" else int(self.test_stride)
        if self.features == "fpfh":  # raw features have no radii
            reference = reference[subsample_indices(len(reference), self.max_points, self.seed, first.id)]
            self.radii_: Radii = resolve_radii(self.radius_unit, self.normal_radius, self.fpfh_radius, reference)

        bank = []
        for sample in samples:
            check_same_kind(self.organized_, sample)
            if self.organized_:
                bank.append(self._organized_patches(sample))
            else:
                points = geometry_of(sample)
                bank.append(self._point_features(points, sample.id)[strided(len(points), self.train_stride_)])
        bank = np.concatenate(bank).astype(np.float32)
        if self.organized_ and self.coreset_fraction < 1:
            keep = greedy_coreset(reduce_for_coreset(bank, self.coreset_eps, self.seed),
                                  max(1, int(self.coreset_fraction * len(bank))))
            bank = bank[keep]
        self.bank_ = NearestNeighbors(bank)
        return self

    def _score_queries(self, queries: np.ndarray) -> tuple[float, np.ndarray]:
        from benchkit_components.memory_bank import reweighted_image_score

        squared, indices = self.bank_.search(queries, k=1)
        distances = np.sqrt(squared[:, 0])
        return reweighted_image_score(queries, self.bank_, distances, indices[:, 0], self.n_reweight), distances

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        predictions = []
        for sample in samples:
            check_same_kind(self.organized_, sample)
            if self.organized_:
                score, distances = self._score_queries(self._organized_patches(sample))
                anomaly_map = upsample_and_blur(distances, self.patch_grid, self.image_size, self.blur_sigma)
            else:
                points = geometry_of(sample)
                picked = strided(len(points), self.test_stride_)
                score, distances = self._score_queries(self._point_features(points, sample.id)[picked])
                anomaly_map = spread_to_points(points[picked], distances, points).astype(np.float32)
            predictions.append(Prediction(score=float(score), map=anomaly_map))
        return predictions

    def memory_bank_bytes(self) -> int:
        bank = getattr(self, "bank_", None)
        return 0 if bank is None else bank.nbytes
