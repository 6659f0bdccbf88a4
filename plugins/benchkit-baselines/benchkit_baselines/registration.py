"""Global rigid registration of one cloud onto a template, the way Real3D-AD's PatchCore baselines align every cloud
to the first training cloud before computing features, made deterministic.

Real3D-AD's recipe (in its units): voxel-down-sample both clouds (voxel 0.5), normals radius 2 x voxel (30
neighbours), FPFH radius 5 x voxel (100 neighbours), mutually nearest FPFH correspondences, 3-point RANSAC with the
edge-length (0.9) and distance (1.5 x voxel) checks, at most 100,000 iterations at confidence 0.999, through
open3d's ``registration_ransac_based_on_feature_matching``. The reference first applies a fixed axis permutation to
the source; a global registration does not need it, so benchkit leaves it out.

Why not open3d's RANSAC: its hypotheses are drawn on several threads from one shared generator, so two identical
calls return different transforms (measured with open3d 0.20 on a synthetic-pc cloud: 2 distinct transforms in 6
calls even with OMP_NUM_THREADS=1 and ``o3d.utility.random.seed`` before each call). A benchmark must give the same
score for the same seed, so benchkit keeps the recipe (same down-sampling, features, mutual filter, checks,
threshold, confidence) and runs the sampling itself:

1. open3d: voxel down-sampling, normals, FPFH (per point, deterministic);
2. faiss: exact mutual nearest neighbours in FPFH space (the reference's ``mutual_filter=True``);
3. numpy: seeded RANSAC over those correspondences, vectorized over batches of 3-point hypotheses (Kabsch fit per
   hypothesis, the two checks, inlier count among the correspondences); the best hypothesis is refitted on its
   inliers;
4. numpy + scipy: a short point-to-point ICP on the down-sampled clouds (max correspondence distance 1.5 x voxel).
   The reference has no refinement; RANSAC alone leaves errors of about a voxel, which FPFH (radius 20 point
   spacings) hardly sees but the FPFH+Raw variant's xyz bank does. open3d's ICP merges correspondences from several
   threads in whatever order they finish, so it is not bit-for-bit repeatable either; the 20-line loop here is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from benchkit import rng

from benchkit_components.fpfh import estimate_normals, fpfh_of_cloud, to_open3d
from benchkit_components.neighbours import NearestNeighbors, knn


@dataclass
class DownsampledWithFeatures:
    """A voxel-down-sampled cloud (M x 3) with its FPFH (M x 33), ready to be a registration source or target."""

    points: np.ndarray
    features: np.ndarray


def prepare(points: np.ndarray, voxel_size: float) -> DownsampledWithFeatures:
    down = to_open3d(points).voxel_down_sample(voxel_size)
    estimate_normals(down, 2 * voxel_size, 30)
    features = fpfh_of_cloud(down, 5 * voxel_size, 100)
    return DownsampledWithFeatures(np.asarray(down.points, dtype=np.float64).copy(), features)


def mutual_matches(source_features: np.ndarray, target_features: np.ndarray) -> np.ndarray:
    """Index pairs (i, j), K x 2, where target j is source i's nearest feature and source i is target j's."""
    _, forward = NearestNeighbors(target_features).search(source_features, k=1)
    _, backward = NearestNeighbors(source_features).search(target_features, k=1)
    forward, backward = forward[:, 0], backward[:, 0]
    source_idx = np.flatnonzero(backward[forward] == np.arange(len(forward)))
    return np.stack([source_idx, forward[source_idx]], axis=1)


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rigid transforms (no scale) moving ``source`` onto ``target``, batched: ... x K x 3 each in,
    ... x 4 x 4 out (Umeyama's reflection-safe solution)."""
    w = np.full(source.shape[:-1] + (1,), 1.0 / source.shape[-2])  # equal weights
    mu_s = (w * source).sum(axis=-2)
    mu_t = (w * target).sum(axis=-2)
    cov = np.swapaxes(w * (target - mu_t[..., None, :]), -1, -2) @ (source - mu_s[..., None, :])
    u, _, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones(u.shape[:-1])
    fix[..., -1] = d
    rotation = (u * fix[..., None, :]) @ vt
    transform = np.zeros(source.shape[:-2] + (4, 4))
    transform[..., :3, :3] = rotation
    transform[..., :3, 3] = mu_t - (rotation @ mu_s[..., None])[..., 0]
    transform[..., 3, 3] = 1.0
    return transform


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:3, :3].T + transform[:3, 3]


def ransac(
    source: np.ndarray,
    target: np.ndarray,
    distance: float,
    generator: np.random.Generator,
    max_iterations: int = 100_000,
    confidence: float = 0.999,
    edge_similarity: float = 0.9,
    batch: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Best rigid transform for corresponding rows of ``source`` and ``target`` (K x 3 each) by 3-point RANSAC, and
    its inlier mask. Hypotheses failing the edge-length or distance check are discarded, as open3d's checkers do;
    the stopping rule is the usual log(1 - confidence) / log(1 - inlier_ratio^3)."""
    count = len(source)
    best_inliers = np.zeros(count, dtype=bool)
    best = np.eye(4)
    if count < 3:
        return best, best_inliers
    needed, done = max_iterations, 0
    while done < min(needed, max_iterations):
        picks = _three_distinct(generator, count, batch)
        done += batch
        s, t = source[picks], target[picks]  # B x 3 x 3
        pairs = [(0, 1), (0, 2), (1, 2)]
        edges_s = np.stack([np.linalg.norm(s[:, a] - s[:, b], axis=1) for a, b in pairs], axis=1)
        edges_t = np.stack([np.linalg.norm(t[:, a] - t[:, b], axis=1) for a, b in pairs], axis=1)
        similar = ((edges_s > edges_t * edge_similarity) & (edges_t > edges_s * edge_similarity)).all(axis=1)
        if not similar.any():
            continue
        transforms = kabsch(s[similar], t[similar])
        moved = s[similar] @ np.swapaxes(transforms[:, :3, :3], 1, 2) + transforms[:, None, :3, 3]
        close = (np.linalg.norm(moved - t[similar], axis=2) < distance).all(axis=1)
        if not close.any():
            continue
        transforms = transforms[close]
        all_moved = source[None] @ np.swapaxes(transforms[:, :3, :3], 1, 2) + transforms[:, None, :3, 3]
        inliers = np.linalg.norm(all_moved - target[None], axis=2) < distance  # H x K
        winner = int(np.argmax(inliers.sum(axis=1)))  # first of the best: deterministic
        if inliers[winner].sum() > best_inliers.sum():
            best_inliers, best = inliers[winner], transforms[winner]
            ratio = best_inliers.mean()
            needed = int(np.ceil(np.log(1 - confidence) / np.log(max(1e-12, 1 - ratio**3)))) if ratio < 1 else 0
    if best_inliers.sum() >= 3:
        best = kabsch(source[best_inliers], target[best_inliers])
    return best, best_inliers


def _three_distinct(generator: np.random.Generator, count: int, batch: int) -> np.ndarray:
    """``batch`` rows of 3 distinct indices below ``count``, uniformly (rows with a repeat are redrawn)."""
    picks = generator.integers(0, count, size=(batch, 3))
    while True:
        repeated = (picks[:, 0] == picks[:, 1]) | (picks[:, 0] == picks[:, 2]) | (picks[:, 1] == picks[:, 2])
        if not repeated.any():
            return picks
        picks[repeated] = generator.integers(0, count, size=(int(repeated.sum()), 3))


def icp(source: np.ndarray, target: np.ndarray, initial: np.ndarray, distance: float, iterations: int = 30) -> np.ndarray:
    """Point-to-point ICP: nearest target point within ``distance``, Kabsch on those pairs, repeat until the pairs
    stop changing (then the next step would be the identity) or ``iterations`` run out. Returns the refined 4 x 4
    transform."""
    transform = initial
    previous = None
    for _ in range(iterations):
        squared, nearest = knn(target, apply(transform, source), 1)
        matched = squared[:, 0] < distance**2
        nearest = nearest[:, 0]
        pairs = np.where(matched, nearest, -1)
        if matched.sum() < 3 or (previous is not None and np.array_equal(pairs, previous)):
            break
        previous = pairs
        transform = kabsch(source[matched], target[nearest[matched]])
    return transform


def estimate_transform(
    source: DownsampledWithFeatures,
    target: DownsampledWithFeatures,
    voxel_size: float,
    seed: int = 0,
    max_iterations: int = 100_000,
    confidence: float = 0.999,
    refine: bool = True,
) -> np.ndarray:
    """The 4 x 4 rigid transform moving ``source`` onto ``target`` (see the module docstring)."""
    distance = 1.5 * voxel_size
    matches = mutual_matches(source.features, target.features)
    transform, _ = ransac(source.points[matches[:, 0]], target.points[matches[:, 1]], distance, rng(seed, "ransac"),
                          max_iterations, confidence)
    if refine:
        transform = icp(source.points, target.points, transform, distance)
    return transform


def register(
    source: np.ndarray,
    target: DownsampledWithFeatures,
    voxel_size: float,
    seed: int = 0,
    max_iterations: int = 100_000,
    confidence: float = 0.999,
    refine: bool = True,
) -> np.ndarray:
    """``source`` (N x 3) moved onto ``target``; returns the moved N x 3 points. Same inputs and seed, same
    output, whatever the thread count."""
    transform = estimate_transform(prepare(source, voxel_size), target, voxel_size, seed, max_iterations,
                                   confidence, refine)
    return apply(transform, np.asarray(source, dtype=np.float64))
