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

1. open3d: voxel down-sampling, normals, FPFH (per point, deterministic; through the feature cache);
2. exact mutual nearest neighbours in FPFH space (the reference's ``mutual_filter=True``;
   `benchkit_components.neighbours.NearestNeighbors`);
3. numpy: seeded RANSAC over those correspondences, vectorized over batches of 3-point hypotheses (the edge check one
   edge at a time, Kabsch fit per surviving hypothesis, the distance check, inlier count among the correspondences);
   the best hypothesis is refitted on its inliers;
4. numpy + scipy: a short point-to-point ICP on the down-sampled clouds (max correspondence distance 1.5 x voxel).
   The reference has no refinement; RANSAC alone leaves errors of about a voxel, which FPFH (radius 20 point
   spacings) hardly sees but the FPFH+Raw variant's xyz bank does. open3d's ICP merges correspondences from several
   threads in whatever order they finish, so it is not bit-for-bit repeatable either; the 20-line loop here is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from benchkit import rng

from benchkit_components.fpfh import fpfh, to_open3d
from benchkit_components.neighbours import NearestNeighbors, knn


@dataclass
class DownsampledWithFeatures:
    """A voxel-down-sampled cloud (M x 3) with its FPFH (M x 33), ready to be a registration source or target."""

    points: np.ndarray
    features: np.ndarray


def prepare(points: np.ndarray, voxel_size: float) -> DownsampledWithFeatures:
    """The voxel-down-sampled cloud and its FPFH (normals radius 2 x voxel, 30 neighbours; FPFH radius 5 x voxel,
    100 neighbours). The FPFH goes through the feature cache (`benchkit_components.fpfh.fpfh`, bit-identical to
    open3d on the down-sampled cloud as it comes), so each cloud is prepared once across detectors and settings."""
    down = np.asarray(to_open3d(points).voxel_down_sample(voxel_size).points, dtype=np.float64).copy()
    return DownsampledWithFeatures(down, fpfh(down, 2 * voxel_size, 30, 5 * voxel_size, 100, cached=True))


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
    the stopping rule is the usual log(1 - confidence) / log(1 - inlier_ratio^3), checked after each ``batch`` of
    hypotheses.

    Batches are drawn one at a time but checked several at once (1, 2, 4, ... up to 16: `_check_hypotheses`), then
    replayed batch by batch: the same draws, winners and stop as checking each batch alone (each hypothesis's
    numbers do not depend on what is checked with it), at a third of the cost. Batches drawn past the stop are
    discarded unused: the generator is this call's own."""
    count = len(source)
    best_inliers = np.zeros(count, dtype=bool)
    best = np.eye(4)
    if count < 3:
        return best, best_inliers
    needed, done, ahead = max_iterations, 0, 1
    while done < min(needed, max_iterations):
        ahead = min(ahead, -(-(min(needed, max_iterations) - done) // batch))
        picks = np.concatenate([_three_distinct(generator, count, batch) for _ in range(ahead)])
        positions, transforms, inliers = _check_hypotheses(source, target, picks, distance, edge_similarity)
        counts = inliers.sum(axis=1)
        for b in range(ahead):
            if done >= min(needed, max_iterations):
                break
            done += batch
            mine = np.flatnonzero((positions >= b * batch) & (positions < (b + 1) * batch))
            if len(mine) == 0:
                continue
            winner = mine[int(np.argmax(counts[mine]))]  # first of the best: deterministic
            if counts[winner] > best_inliers.sum():
                best_inliers, best = inliers[winner], transforms[winner]
                ratio = best_inliers.mean()
                needed = int(np.ceil(np.log(1 - confidence) / np.log(max(1e-12, 1 - ratio**3)))) if ratio < 1 else 0
        ahead = min(2 * ahead, 16)
    if best_inliers.sum() >= 3:
        best = kabsch(source[best_inliers], target[best_inliers])
    return best, best_inliers


def _check_hypotheses(
    source: np.ndarray, target: np.ndarray, picks: np.ndarray, distance: float, edge_similarity: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 3-point hypotheses among ``picks`` (H x 3 rows of the correspondences) that pass the edge-length and
    distance checks: their positions in ``picks``, their transforms and their inlier masks over all K
    correspondences."""
    passing = np.arange(len(picks))
    for a, b in ((0, 1), (0, 2), (1, 2)):  # one edge at a time: most hypotheses fail the first
        ends_a, ends_b = picks[passing, a], picks[passing, b]
        edge_s = np.linalg.norm(source[ends_a] - source[ends_b], axis=1)
        edge_t = np.linalg.norm(target[ends_a] - target[ends_b], axis=1)
        passing = passing[(edge_s > edge_t * edge_similarity) & (edge_t > edge_s * edge_similarity)]
    s, t = source[picks[passing]], target[picks[passing]]  # P x 3 x 3
    transforms = kabsch(s, t)
    moved = s @ np.swapaxes(transforms[:, :3, :3], 1, 2) + transforms[:, None, :3, 3]
    close = (np.linalg.norm(moved - t, axis=2) < distance).all(axis=1)
    transforms = transforms[close]
    inliers = np.zeros((len(transforms), len(source)), dtype=bool)
    step = max(1, 2**20 // len(source))  # hypotheses moved at once: about 2**20 points
    for i in range(0, len(transforms), step):
        some = transforms[i:i + step]
        all_moved = source[None] @ np.swapaxes(some[:, :3, :3], 1, 2) + some[:, None, :3, 3]
        inliers[i:i + step] = np.linalg.norm(all_moved - target[None], axis=2) < distance
    return passing[close], transforms, inliers


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
