"""The metric benchmark runs, and the memory bound holds (memory, unlike time, is stable enough to test)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

from benchkit.metrics import DEFAULT_ORGANIZED, compute_metrics

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_metrics.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_metrics", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_set_is_deterministic_and_realistic():
    bench = _bench_module()
    labels, scores, gts, maps = bench.synthetic_set(12, 64, seed=3)
    again = bench.synthetic_set(12, 64, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(maps, again[3]))
    assert 0 < labels.sum() < len(labels)  # good maps and defective ones
    assert all(m.dtype == np.float32 and m.shape == (64, 64) for m in maps)
    values = compute_metrics(labels, scores, gts, maps, organized=True)
    assert all(0.0 < v < 1.0 for v in values.values())


def test_peak_extra_memory_is_below_three_score_arrays():
    bench = _bench_module()
    labels, scores, gts, maps = bench.synthetic_set(30, 128, seed=1)
    extra = bench.peak_extra_bytes(
        lambda: compute_metrics(labels, scores, gts, maps, organized=True, names=DEFAULT_ORGANIZED))
    assert extra <= bench.MAX_MEMORY_RATIO * sum(m.nbytes for m in maps)


def test_benchmark_prints_the_ratios_last(capsys):
    bench = _bench_module()
    assert bench.main(["--maps", "8", "--size", "48", "--repeat", "1", "--no-sklearn"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"ratio_vs_sort=\d+\.\d+ ratio_vs_sklearn=nan", last)
