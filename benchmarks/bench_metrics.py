"""Cost of benchkit's metric suite on an MVTec 3D-AD sized category, against one numpy sort and scikit-learn.

The suite is what a job computes per category: image AUROC and AP, pixel AUROC and AP, exact AU-PRO at 0.3 and
0.01 (`benchkit.metrics.DEFAULT_ORGANIZED`). The synthetic set (seeded) has 110 maps of 224 x 224 float32 scores:
some good maps, the others with one to three blob-shaped defects whose scores rise only partly above a smooth noisy
background, so every metric lies strictly between 0 and 1 and ties are rare, as with real detectors.

Prints the timings and the peak extra memory (tracemalloc, which sees numpy's buffers) and, as the last line,
``ratio_vs_sort=<x> ratio_vs_sklearn=<y>``: suite time over one ``numpy.sort`` of all pixel scores measured in the
same process, and over scikit-learn's ``roc_auc_score`` + ``average_precision_score`` on the same pixels.

Usage: python benchmarks/bench_metrics.py [--maps 110] [--size 224] [--repeat 7] [--no-sklearn] [--check]
(``--check`` exits 1 when the suite costs more than 5 sorts or more than 3 score arrays of extra memory).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc

import numpy as np
from scipy import ndimage

from benchkit.metrics import DEFAULT_ORGANIZED, compute_metrics

MAX_RATIO_VS_SORT = 5.0
MAX_MEMORY_RATIO = 3.0


def synthetic_set(n_maps: int = 110, size: int = 224, good_fraction: float = 0.25, seed: int = 0):
    """Deterministic (labels, image scores, gts, maps): blob defects, smooth background noise, imperfect detection."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    gts, maps = [], []
    n_good = int(round(n_maps * good_fraction))
    for i in range(n_maps):
        gt = np.zeros((size, size), dtype=bool)
        score = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), sigma=4) * 4
        if i >= n_good:
            for _ in range(rng.integers(1, 4)):
                cy, cx = rng.uniform(0.15, 0.85, 2) * size
                ry, rx = rng.uniform(0.02, 0.12, 2) * size
                angle = rng.uniform(0, np.pi)
                dy, dx = yy - cy, xx - cx
                u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
                v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
                blob = u * u + v * v <= 1.0
                gt |= blob
                # the detector sees a shifted, blurred, weaker-or-stronger copy of the defect
                shift = rng.integers(-4, 5, 2)
                seen = ndimage.gaussian_filter(np.roll(blob, shift, axis=(0, 1)).astype(np.float32), sigma=3)
                score += seen * rng.uniform(0.5, 2.0)
        maps.append(score.astype(np.float32))
        gts.append(gt.astype(np.uint8))
    labels = np.array([int(g.any()) for g in gts])
    image_scores = np.array([m.max() for m in maps], dtype=np.float64)
    return labels, image_scores, gts, maps


def _alternating_medians(first, second, repeat: int) -> tuple[float, float]:
    """Median wall times of two functions timed in turn, so that load from elsewhere hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def peak_extra_bytes(fn) -> int:
    """Peak bytes allocated while ``fn`` runs, above what was allocated before (numpy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=110)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-sklearn", action="store_true", help="skip the (slow) scikit-learn comparison")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    labels, image_scores, gts, maps = synthetic_set(args.maps, args.size)
    pixels = np.concatenate([m.ravel() for m in maps])
    truth = np.concatenate([g.ravel() for g in gts])
    print(f"{len(maps)} maps of {args.size}x{args.size}: {pixels.size} pixels ({pixels.nbytes / 2**20:.1f} MiB "
          f"float32), {int(truth.sum())} anomalous, {int(labels.sum())} anomalous maps")

    def suite():
        return compute_metrics(labels, image_scores, gts, maps, organized=True, names=DEFAULT_ORGANIZED)

    values = suite()  # warm-up (imports, page faults)
    print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in values.items()))
    sort_s, suite_s = _alternating_medians(lambda: np.sort(pixels), suite, args.repeat)
    extra = peak_extra_bytes(suite)
    memory_ratio = extra / pixels.nbytes
    print(f"numpy.sort of all pixel scores: {sort_s * 1e3:.1f} ms (median of {args.repeat})")
    print(f"metric suite ({', '.join(DEFAULT_ORGANIZED)}): {suite_s * 1e3:.1f} ms (median of {args.repeat})")
    print(f"peak extra memory: {extra / 2**20:.1f} MiB = {memory_ratio:.2f} x the score array")

    legacy_names = [f"aupro@{limit}/legacy{count}" for limit in (0.3, 0.01) for count in (99, 100, 512, 5000)]
    legacy = compute_metrics(labels, image_scores, gts, maps, organized=True, names=legacy_names)
    print("legacy (quantile thresholds, not timed): " + ", ".join(f"{k}={v:.4f}" for k, v in legacy.items()))

    ratio_sklearn = float("nan")
    if not args.no_sklearn:
        from sklearn.metrics import average_precision_score, roc_auc_score

        start = time.perf_counter()
        sk_auroc = roc_auc_score(truth, pixels)
        sk_ap = average_precision_score(truth, pixels)
        sklearn_s = time.perf_counter() - start
        ratio_sklearn = suite_s / sklearn_s
        print(f"scikit-learn roc_auc_score + average_precision_score: {sklearn_s * 1e3:.0f} ms; differences: "
              f"p_auroc {abs(sk_auroc - values['p_auroc']):.1e}, p_aupr {abs(sk_ap - values['p_aupr']):.1e}")

    ratio_sort = suite_s / sort_s
    print(f"ratio_vs_sort={ratio_sort:.2f} ratio_vs_sklearn={ratio_sklearn:.4f}")
    if args.check and (ratio_sort > MAX_RATIO_VS_SORT or memory_ratio > MAX_MEMORY_RATIO):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
