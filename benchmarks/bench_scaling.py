"""Seconds per test sample of the point-cloud detectors' paper configurations as clouds grow to Real3D-AD size, and
the point spacing estimate at each size.

Clouds are sampled uniformly (random order, as scans are stored) from a synthetic-pc surface (``blob``, about 40 mm
across, in millimetres like Real3D-AD). Each detector is fitted once on ``--train`` clouds of ``--train-points``
points; then one test cloud per size is scored and timed (``predict`` of that one sample, after a warm-up call on a
small cloud). The exponent is the slope of log(seconds) over log(points), fitted over every size measured.
Training does not change what a prediction costs, so the networks (SeDiR, Mamba3DAD) train for one epoch here and
their Point-MAE encoders are randomly initialized (no weights file is needed; the scores mean nothing, the timings
do).

The spacing line compares `benchkit_components.fpfh.mean_spacing` (every point) with the old estimate on a 20,000-point
random subsample, whose bias grows with the cloud's density.

Usage: python benchmarks/bench_scaling.py [--sizes 50000,100000,...] [--detectors btf-fpfh,...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchkit import Sample
from benchkit.backbones import job_options
from benchkit.plugins import get_registry

DETECTORS = ("btf-fpfh", "btf-raw", "patchcore-fpfh", "patchcore-fpfh-raw", "sedir", "mamba3dad")
#: training length only (it does not change the cost of a prediction)
PARAMS = {"sedir": {"epochs": 1}, "mamba3dad": {"epochs": 1}}


def cloud(n: int, seed: int) -> np.ndarray:
    from benchkit_synthetic.shapes import surface

    points, _ = surface("blob").sample(n, np.random.default_rng(seed))
    return points.astype(np.float32)


def subsampled_spacing(points: np.ndarray, size: int = 20_000) -> float:
    """The estimate benchkit used before: mean nearest-neighbour distance within a random subsample."""
    from benchkit_components.fpfh import mean_spacing

    pick = np.random.default_rng(0).choice(len(points), size=min(size, len(points)), replace=False)
    return mean_spacing(points[pick])


def main() -> None:
    from benchkit_components.fpfh import mean_spacing

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50000,100000,200000,400000,800000,1600000")
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--train", type=int, default=4)
    parser.add_argument("--train-points", type=int, default=50_000)
    parser.add_argument("--no-spacing", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    clouds = {n: cloud(n, seed=n) for n in sizes}
    if not args.no_spacing:
        for n, points in clouds.items():
            start = time.perf_counter()
            exact = mean_spacing(points)
            seconds = time.perf_counter() - start
            print(f"spacing {n:>9,d} points: every point {exact:.4f} mm ({seconds:.1f} s), 20k subsample "
                  f"{subsampled_spacing(points):.4f} mm ({subsampled_spacing(points) / exact:.2f}x)", flush=True)

    registry = get_registry()
    train = [Sample(id=f"train{i}", category="blob", label=0, points=cloud(args.train_points, seed=1000 + i))
             for i in range(args.train)]
    warm_up = Sample(id="warm", category="blob", label=0, points=cloud(20_000, seed=7)).hidden()
    for name in args.detectors.split(","):
        with job_options(allow_random_init=True):
            detector = registry.detectors[name].build(seed=0, **PARAMS.get(name, {})).fit(train)
            detector.predict([warm_up])
            times = []
            for n in sizes:
                sample = Sample(id=f"test{n}", category="blob", label=0, points=clouds[n]).hidden()
                start = time.perf_counter()
                prediction = detector.predict([sample])[0]
                times.append(time.perf_counter() - start)
                assert prediction.map.shape == (n,)
                print(f"{name:18s} {n:>9,d} points: {times[-1]:7.2f} s per sample", flush=True)
        if len(sizes) > 1:
            slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
            print(f"{name:18s} exponent {slope:.2f} over {sizes[0]:,d}-{sizes[-1]:,d} points", flush=True)


if __name__ == "__main__":
    main()
