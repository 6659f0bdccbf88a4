"""The papers' configurations of BTF(FPFH) and PatchCore(FPFH), as benchkit runs them and as the reference code
runs the same steps, timed in the same process on the same generated files.

- BTF(FPFH) on MVTec 3D-AD style data (synthetic-rgbd), against eliahuhorwitz/3D-ADS: open3d normals and FPFH on
  the valid points in the order they come (``get_fpfh_features``), the coreset loop of ``get_coreset_idx_randomp``
  (``torch.linalg.norm`` per pick, float16 as its default), ``torch.cdist`` scoring with the re-weighting of
  ``compute_s_s_map``.
- PatchCore(FPFH) on Real3D-AD style data (synthetic-pc), against M-3LAB/Real3D-AD: open3d's RANSAC registration
  (``get_registration_np``, the fixed axis permutation included; every cloud, the first too), open3d FPFH in input
  order, the ``ApproximateGreedyCoresetSampler`` loop (``torch.nn.Linear`` lift to 128-d, batchwise distances,
  ``torch.cat`` + ``torch.min`` per pick) to 10,000 features, faiss 1-NN, object score the maximum.

The benchkit side is each detector's plain name, fit and predict, with the feature cache off (a cached feature is
no speed-up over the reference). Both sides get the same thread count (the process's: set ``OMP_NUM_THREADS`` to
compare at a fixed count). open3d's
RANSAC is not repeatable, so the reference side of PatchCore can score differently from run to run;
``--registration benchkit`` gives that side benchkit's seeded RANSAC (and fixes its coreset's random draws), so the
score deltas then measure the other steps; ``--draws benchkit`` also gives the reference's coreset benchkit's lift
matrix and starting features, leaving only rounding between the sides. Both sides run
once, untimed, on one training and one test sample before the first category, so that neither is charged for
imports or for loading compiled kernels.

Prints one line per category: seconds (fit + predict) of each side, their ratio, I-AUROC of each side and the
difference; then the means. Usage:

    python benchmarks/bench_baselines.py [--datasets synthetic-rgbd,synthetic-pc] [--categories donut,blob]
        [--cache DIR] [--registration open3d|benchkit] [--reference-seed N] [--draws reference|benchkit]
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from benchkit.plugins import get_registry


# -- the reference's steps ----------------------------------------------------------------------------------------
def _o3d():
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


def reference_fpfh(points: np.ndarray, voxel_size: float) -> np.ndarray:
    """open3d normals (radius 2 x voxel, 30) and FPFH (5 x voxel, 100) on the points as they come."""
    o3d = _o3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=voxel_size * 2, max_nn=30))
    feature = o3d.pipelines.registration.compute_fpfh_feature(
        cloud, o3d.geometry.KDTreeSearchParamHybrid(radius=voxel_size * 5, max_nn=100))
    return np.asarray(feature.data).T.astype(np.float32)


def reference_btf_coreset(bank, n: int):
    """3D-ADS ``get_coreset_idx_randomp`` (the projection raises for 33-d features, so it selects unprojected)."""
    import torch

    z_lib = torch.as_tensor(bank)
    last_item = z_lib[0:1]
    coreset_idx = [torch.tensor(0)]
    min_distances = torch.linalg.norm(z_lib - last_item, dim=1, keepdims=True)
    last_item, z_lib, min_distances = last_item.half(), z_lib.half(), min_distances.half()
    for _ in range(n - 1):
        distances = torch.linalg.norm(z_lib - last_item, dim=1, keepdims=True)
        min_distances = torch.minimum(distances, min_distances)
        select_idx = torch.argmax(min_distances)
        last_item = z_lib[select_idx:select_idx + 1]
        min_distances[select_idx] = 0
        coreset_idx.append(select_idx)
    return torch.stack(coreset_idx).numpy()


def reference_btf_score(patch, bank, n_reweight: int = 3) -> float:
    """3D-ADS ``compute_s_s_map``: the image score (the map does not enter I-AUROC)."""
    import torch

    dist = torch.cdist(patch, bank)
    min_val, min_idx = torch.min(dist, dim=1)
    s_idx = torch.argmax(min_val)
    s_star = torch.max(min_val)
    m_test = patch[s_idx].unsqueeze(0)
    m_star = bank[min_idx[s_idx]].unsqueeze(0)
    _, nn_idx = torch.topk(torch.cdist(m_star, bank), k=n_reweight, largest=False)
    m_star_knn = torch.linalg.norm(m_test - bank[nn_idx[0, 1:]], dim=1)
    d = torch.sqrt(torch.tensor(patch.shape[1], dtype=torch.float32))
    return float((1 - torch.exp(s_star / d) / torch.sum(torch.exp(m_star_knn / d))) * s_star)


def reference_btf(train, test) -> list[float]:
    import torch
    import torch.nn.functional as F
    from benchkit_components.grid import resize_nearest

    def patches(sample):
        xyz = resize_nearest(sample.xyz, 224)
        flat = xyz.reshape(-1, 3)
        nonzero = np.nonzero(np.all(flat != 0, axis=1))[0]
        full = np.zeros((len(flat), 33), dtype=np.float32)
        full[nonzero] = reference_fpfh(flat[nonzero], voxel_size=0.05)
        maps = torch.tensor(full.reshape(224, 224, 33)).permute(2, 0, 1).unsqueeze(0)
        pooled = F.adaptive_avg_pool2d(F.avg_pool2d(maps, 3, stride=1), (28, 28))
        return pooled.reshape(pooled.shape[1], -1).T

    bank = torch.cat([patches(s) for s in train], 0)
    bank = bank[reference_btf_coreset(bank, int(0.1 * bank.shape[0]))]
    return [reference_btf_score(patches(s), bank) for s in test]


def reference_registration(source: np.ndarray, target: np.ndarray, voxel_size: float = 0.5) -> np.ndarray:
    """Real3D-AD ``get_registration_np``: axis permutation, then open3d RANSAC on down-sampled FPFH matches."""
    o3d = _o3d()
    reg = o3d.pipelines.registration

    def prepared(points):
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
        return cloud

    src, tgt = prepared(source), prepared(target)
    src.transform(np.asarray([[0.0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]))
    downs = []
    for cloud in (src, tgt):
        down = cloud.voxel_down_sample(voxel_size)
        down.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=voxel_size * 2, max_nn=30))
        downs.append((down, reg.compute_fpfh_feature(down, o3d.geometry.KDTreeSearchParamHybrid(
            radius=voxel_size * 5, max_nn=100))))
    (src_down, src_fpfh), (tgt_down, tgt_fpfh) = downs
    distance = voxel_size * 1.5
    result = reg.registration_ransac_based_on_feature_matching(
        src_down, tgt_down, src_fpfh, tgt_fpfh, True, distance, reg.TransformationEstimationPointToPoint(False), 3,
        [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(distance)],
        reg.RANSACConvergenceCriteria(100000, 0.999))
    src.transform(result.transformation)
    return np.asarray(src.points)


def reference_patchcore_coreset(features: np.ndarray, memory_size: int = 10_000, draws=None) -> np.ndarray:
    """Real3D-AD ``ApproximateGreedyCoresetSampler.run_with_limit_memory`` (10 starting points, 128-d lift).
    ``draws``: (D x 128 lift matrix, starting indices) to use instead of torch's and numpy's random ones."""
    import torch

    def batchwise(a, b):
        a_a = a.unsqueeze(1).bmm(a.unsqueeze(2)).reshape(-1, 1)
        b_b = b.unsqueeze(1).bmm(b.unsqueeze(2)).reshape(1, -1)
        return (-2 * a.mm(b.T) + a_a + b_b).clamp(0, None).sqrt()

    with torch.no_grad():
        mapper = torch.nn.Linear(features.shape[1], 128, bias=False)
        starts = np.random.choice(len(features), min(10, len(features)), replace=False).tolist()
        if draws is not None:
            mapper.weight.copy_(torch.from_numpy(np.ascontiguousarray(draws[0].T, dtype=np.float32)))
            starts = [int(i) for i in draws[1]]
        reduced = mapper(torch.from_numpy(features))
        anchor = torch.mean(batchwise(reduced, reduced[starts]), axis=-1).reshape(-1, 1)
        picked = []
        for _ in range(min(memory_size, len(reduced))):  # the reference loops memory_size times regardless of N
            select = torch.argmax(anchor).item()
            picked.append(select)
            anchor = torch.cat([anchor, batchwise(reduced, reduced[select:select + 1])], dim=-1)
            anchor = torch.min(anchor, dim=1).values.reshape(-1, 1)
    return np.array(picked)


def benchkit_registration(template: np.ndarray):
    """benchkit's seeded RANSAC (the detector's registration, seed 0, no refinement) in place of open3d's, which is
    not repeatable: with it the rest of the reference's steps can be compared score for score."""
    from benchkit_baselines.registration import prepare, register

    target = prepare(template, 0.5)
    return lambda points, _template: register(points, target, 0.5, seed=0, refine=False)


def benchkit_coreset_draws(n_features: int, n_rows: int):
    """The lift matrix and starting indices that benchkit's PatchCore (seed 0, as `benchkit_scores` builds it)
    draws for its FPFH bank."""
    from benchkit_components.memory_bank import coreset_starts, random_linear_matrix

    seed = get_registry().detectors["patchcore-fpfh"].build(seed=0).coreset_seed("fpfh")
    return random_linear_matrix(n_features, 128, seed), coreset_starts(n_rows, seed)


def reference_patchcore(train, test, registration: str = "open3d", seed: int = 0,
                        draws: str = "reference") -> list[float]:
    import faiss
    import torch

    template = np.asarray(train[0].points, dtype=np.float64)
    registered = reference_registration
    if registration == "benchkit":
        registered = benchkit_registration(template)
        np.random.seed(seed)  # the coreset's starting points and torch's lift: fixed, so that two runs agree
        torch.manual_seed(seed)
    features = [reference_fpfh(registered(np.asarray(s.points, np.float64), template), 0.5) for s in train]
    features = np.concatenate(features)
    shared = benchkit_coreset_draws(features.shape[1], len(features)) if draws == "benchkit" else None
    bank = features[reference_patchcore_coreset(features, draws=shared)]
    index = faiss.IndexFlatL2(bank.shape[1])
    index.add(np.ascontiguousarray(bank))
    scores = []
    for sample in test:
        query = reference_fpfh(registered(np.asarray(sample.points, np.float64), template), 0.5)
        distances, _ = index.search(np.ascontiguousarray(query), 1)
        scores.append(float(distances.max()))
    return scores


# -- the comparison -----------------------------------------------------------------------------------------------
CASES = {"synthetic-rgbd": ("btf-fpfh", reference_btf), "synthetic-pc": ("patchcore-fpfh", reference_patchcore)}


def benchkit_scores(detector_name: str, train, test) -> list[float]:
    detector = get_registry().detectors[detector_name].build(seed=0).fit(train)
    return [p.score for p in detector.predict([s.hidden() for s in test])]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(CASES))
    parser.add_argument("--categories", default="", help="comma-separated; default every category")
    parser.add_argument("--cache", default=os.environ.get("BENCHKIT_CACHE", "/tmp/benchkit-bench-cache"))
    parser.add_argument("--registration", choices=("open3d", "benchkit"), default="open3d",
                        help="PatchCore's reference side: open3d's RANSAC as the reference runs it (not repeatable), "
                             "or benchkit's seeded RANSAC, which isolates the other steps' score differences")
    parser.add_argument("--reference-seed", type=int, default=0,
                        help="with --registration benchkit: numpy's and torch's seed for the reference's coreset "
                             "(another seed shows how much the reference's own random draws move its scores)")
    parser.add_argument("--draws", choices=("reference", "benchkit"), default="reference",
                        help="PatchCore's reference side: its coreset's own random lift and starting features, or "
                             "the ones benchkit draws (with --registration benchkit, the score deltas then measure "
                             "floating-point rounding only)")
    args = parser.parse_args()
    os.environ["BENCHKIT_FEATURE_CACHE"] = "off"  # both sides compute every feature: a cache hit is no speed-up
    registry = get_registry()
    wanted = [c for c in args.categories.split(",") if c]
    rows = []
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cores {os.cpu_count()}")
    for dataset_name in args.datasets.split(","):
        detector_name, reference = CASES[dataset_name]
        dataset = registry.datasets[dataset_name].factory(os.path.join(args.cache, dataset_name))
        dataset.prepare()
        warmed = False
        for category in [c for c in dataset.categories() if not wanted or c in wanted]:
            train = [dataset.load(r) for r in dataset.index(category, "train")]
            test = [dataset.load(r) for r in dataset.index(category, "test")]
            if dataset_name == "synthetic-pc":
                reference = functools.partial(reference_patchcore, registration=args.registration,
                                              seed=args.reference_seed, draws=args.draws)
            if not warmed:  # imports and compiled kernels (numba's disk cache) loaded before either side is timed
                benchkit_scores(detector_name, train[:1], test[:1])
                reference(train[:1], test[:1])
                warmed = True
            labels = [s.label for s in test]
            ours, t_ours = timed(benchkit_scores, detector_name, train, test)
            theirs, t_ref = timed(reference, train, test)
            a_ours, a_ref = roc_auc_score(labels, ours), roc_auc_score(labels, theirs)
            rows.append((t_ref / t_ours, a_ours - a_ref))
            print(f"{detector_name:15s} {dataset_name:15s} {category:8s} benchkit {t_ours:7.1f} s  reference "
                  f"{t_ref:7.1f} s  speed-up {t_ref / t_ours:5.2f}x  I-AUROC {a_ours:.3f} vs {a_ref:.3f} "
                  f"(delta {a_ours - a_ref:+.3f})", flush=True)
    if rows:
        ratios, deltas = np.array(rows).T
        print(f"mean speed-up {ratios.mean():.2f}x (min {ratios.min():.2f}x), mean I-AUROC delta {deltas.mean():+.3f} "
              f"(largest |delta| {np.abs(deltas).max():.3f})")


if __name__ == "__main__":
    main()
