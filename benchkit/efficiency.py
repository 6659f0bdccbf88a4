"""Efficiency measured the same way for every detector (after torch.utils.flop_counter and getrusage(2) semantics).

- Latency: wall time of ``predict`` on one sample at a time after one warm-up sample; median, p95 and IQR.
  Throughput = timed samples / their total predict time. GPU work is synchronized before each reading.
- Memory: peak RSS of the job's own process (``ru_maxrss``; the local executor runs each job in a fresh process,
  so the peak is the job's), the resident size before the job loaded any data (the harness's baseline: the
  interpreter and the libraries the fork server preloaded, ~340 MB with torch, open3d and faiss), and their
  difference, ``job_rss_mb``, which is what the detector and its data cost. GPU: peak allocated by torch.
- Parameters: of the detector's torch modules (each tensor counted once).
- FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one predict call (the warm-up one). It reports
  FLOPs = 2 x MACs and counts matmul, convolution and attention only: numpy, faiss and open3d work counts zero,
  which the record says.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

FLOP_COUNTER = "torch.utils.flop_counter.FlopCounterMode: 2 x MACs of matmul/conv/attention only; numpy/faiss/open3d work not counted"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / (1024 * 1024)
    except OSError:
        return peak_rss_mb()


def _torch():
    return sys.modules.get("torch")  # only when the detector imported it: never import torch for a numpy detector


def synchronize(device: str) -> None:
    torch = _torch()
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


def count_parameters(modules: list[Any]) -> int | None:
    if not modules:
        return None
    seen: dict[int, int] = {}
    for module in modules:
        for p in module.parameters():
            seen[id(p)] = p.numel()
    return int(sum(seen.values()))


@contextmanager
def flop_counter(modules: list[Any]):
    """Counts FLOPs of the torch work inside the block; yields a callable returning the total (None without torch)."""
    torch = _torch()
    if not modules or torch is None:
        yield lambda: None
        return
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        yield lambda: float(counter.get_total_flops())


def reset_gpu_peak(device: str) -> None:
    torch = _torch()
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def gpu_peak_mb(device: str) -> float | None:
    torch = _torch()
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / (1024 * 1024)
    return None


def device_name(device: str) -> str:
    """The device as recorded: ``cpu``, or ``cuda:0 (NVIDIA H200)`` with the GPU's model when torch has CUDA."""
    torch = _torch()
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def timed(fn: Callable[[], Any], device: str = "cpu") -> tuple[Any, float]:
    """Run ``fn`` and return (result, wall seconds), synchronizing the GPU around it."""
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start


def latency_summary(seconds: list[float]) -> dict[str, float | int | None]:
    if not seconds:
        return {"latency_ms_median": None, "latency_ms_p95": None, "latency_ms_iqr": None,
                "throughput_per_s": None, "predict_seconds": None, "timed_samples": 0}
    ms = np.asarray(seconds) * 1000.0
    q25, q50, q75, q95 = np.percentile(ms, [25, 50, 75, 95])
    total = float(np.sum(seconds))
    return {
        "latency_ms_median": float(q50),
        "latency_ms_p95": float(q95),
        "latency_ms_iqr": float(q75 - q25),
        "throughput_per_s": len(seconds) / total if total > 0 else None,
        "predict_seconds": total,
        "timed_samples": len(seconds),
    }
