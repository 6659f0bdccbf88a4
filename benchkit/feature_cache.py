"""Frozen features computed once and reused by every detector, setting and seed that needs them.

``cached_features(backbone, *inputs, **options)`` returns ``backbone.encode(*inputs, **options)``, from disk when
the same features were computed before. An entry is keyed by

- the backbone's ``identity`` (set by `benchkit.build_backbone`: name, version, weights kind, weights SHA-256 and
  the parameters passed to it; its defaults are covered by its version, which must change when they do),
- a digest of the inputs' content (dtype, shape and bytes of every array), and
- ``options`` (keyword arguments of ``encode``; preprocessing choices),

so a changed checkpoint, backbone version, parameter or input never reuses stale features.

Storage: one ``.npz`` file per entry under ``$BENCHKIT_CACHE/features/`` (numpy arrays, dicts/tuples of arrays or
`benchkit.Tokens`), written to a temporary file in the same folder and renamed into place, so concurrent workers
never read a partial entry (two workers computing the same entry both write it; the last rename wins, with equal
content). Each entry also stores the seconds (and torch FLOPs) its computation took.

Size: bounded by ``$BENCHKIT_FEATURE_CACHE_MB`` (default 4096). After each write, entries are evicted least
recently used first (a hit refreshes the entry's modification time, which is the recency used: access times are
often not kept by file systems) until the folder is within the bound. An entry larger than the bound is not kept.

Switch: ``BENCHKIT_FEATURE_CACHE=off`` (or ``benchkit run --no-feature-cache``) computes every time; the counters
still count the work.

Efficiency: `stats` returns cumulative counters of this process (seconds and FLOPs computed here, seconds and FLOPs
of reused entries as stored when they were computed, entry counts). The worker adds the reused seconds to each timed
``predict`` call, so latency and throughput mean what they mean without a cache, and records the counters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.backbones import Backbone, Tokens
from benchkit.paths import cache_dir

#: Bump when the on-disk entry format changes: older entries are then simply not found.
FORMAT_VERSION = 1
DEFAULT_LIMIT_MB = 4096
_META = "__meta__"


@dataclass
class CacheStats:
    """Cumulative feature-cache counters of this process; subtract two snapshots for what happened in between."""

    seconds_computed: float = 0.0
    seconds_reused: float = 0.0  # compute time stored with the reused entries
    entries_computed: int = 0
    entries_reused: int = 0
    flops_computed: float = 0.0
    flops_reused: float = 0.0

    def __sub__(self, other: CacheStats) -> CacheStats:
        return CacheStats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(self)})

    @property
    def flops(self) -> float:
        """FLOPs of the features as if uncached (computed + reused)."""
        return self.flops_computed + self.flops_reused


_stats = CacheStats()


def stats() -> CacheStats:
    """A snapshot of this process's cumulative counters."""
    return dataclasses.replace(_stats)


def enabled() -> bool:
    return os.environ.get("BENCHKIT_FEATURE_CACHE", "on").strip().lower() not in ("off", "0", "false", "no")


def limit_bytes() -> int:
    from benchkit.errors import UsageError

    raw = os.environ.get("BENCHKIT_FEATURE_CACHE_MB", str(DEFAULT_LIMIT_MB))
    try:
        return int(float(raw) * 1024 * 1024)
    except ValueError:
        raise UsageError(f"BENCHKIT_FEATURE_CACHE_MB={raw!r} is not a number of MiB (e.g. 4096)") from None


def folder() -> Path:
    return cache_dir() / "features"


# -- keys -------------------------------------------------------------------------------------------------------------
def _digest_into(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray) or type(value).__module__ == "torch":
        array = np.ascontiguousarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        h.update(f"array:{array.dtype.str}:{array.shape}:".encode())
        h.update(array.data if array.dtype != object else repr(array.tolist()).encode())
    elif isinstance(value, (list, tuple)):
        h.update(f"seq:{len(value)}:".encode())
        for item in value:
            _digest_into(h, item)
    else:
        h.update(("json:" + json.dumps(value, sort_keys=True, default=repr)).encode())


def entry_key(backbone: Backbone, inputs: tuple[Any, ...], options: dict[str, Any]) -> str:
    """The entry's name: SHA-256 over backbone identity, input content and options."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "backbone": backbone.identity, "options": options},
                        sort_keys=True, default=repr).encode())
    for value in inputs:
        _digest_into(h, value)
    return h.hexdigest()


# -- entries on disk -------------------------------------------------------------------------------------------------
def _pack(value: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays to store and a description of how to rebuild ``value`` from them."""
    if isinstance(value, Tokens):
        fields = {k: v for k, v in (("features", value.features), ("centers", value.centers),
                                    ("groups", value.groups)) if v is not None}
        return {k: _numpy(v) for k, v in fields.items()}, {"type": "tokens"}
    if isinstance(value, dict):
        return {str(k): _numpy(v) for k, v in value.items()}, {"type": "dict", "keys": [str(k) for k in value]}
    if isinstance(value, tuple):
        return {f"item{i}": _numpy(v) for i, v in enumerate(value)}, {"type": "tuple", "length": len(value)}
    return {"array": _numpy(value)}, {"type": "array"}


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"the feature cache stores numpy arrays (or dicts/tuples of them, or Tokens), not "
                        f"{type(value).__name__}")
    return value


def _unpack(arrays: Any, meta: dict[str, Any]) -> Any:
    kind = meta["type"]
    if kind == "tokens":
        return Tokens(features=arrays["features"], centers=arrays["centers"],
                      groups=arrays["groups"] if "groups" in arrays else None)
    if kind == "dict":
        return {k: arrays[k] for k in meta["keys"]}
    if kind == "tuple":
        return tuple(arrays[f"item{i}"] for i in range(meta["length"]))
    return arrays["array"]


def _read(path: Path) -> tuple[Any, dict[str, Any]] | None:
    """The stored value and its metadata, or None when the entry is absent or unreadable (then it is recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data[_META]).decode())
            arrays = {k: data[k] for k in data.files if k != _META}
        os.utime(path)  # recency for eviction
    except (OSError, ValueError, KeyError, EOFError):  # absent, evicted meanwhile, or damaged: recompute
        return None
    return _unpack(arrays, meta), meta


def _write(path: Path, value: Any, seconds: float, flops: float | None) -> None:
    arrays, meta = _pack(value)
    meta.update(seconds=seconds, flops=flops, created=time.time())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def evict(limit: int | None = None) -> int:
    """Remove least recently used entries until the cache holds at most ``limit`` bytes; returns bytes removed."""
    limit = limit_bytes() if limit is None else limit
    entries = []
    try:
        for sub in os.scandir(folder()):
            if sub.is_dir():
                for entry in os.scandir(sub.path):
                    if entry.name.endswith(".npz"):
                        try:
                            st = entry.stat()
                        except FileNotFoundError:
                            continue
                        entries.append((st.st_mtime, st.st_size, entry.path))
    except FileNotFoundError:
        return 0
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        Path(path).unlink(missing_ok=True)
        total -= size
        removed += size
    return removed


def clear() -> None:
    """Remove every entry (``benchkit`` never needs this; it is for users and tests)."""
    evict(limit=0)


# -- the one call detectors make ---------------------------------------------------------------------------------------
def _measure(compute: Callable[[], Any], device: str) -> tuple[Any, float, float | None]:
    """Run ``compute``: (value, wall seconds synchronized on GPU, torch FLOPs or None when torch is not in use)."""
    from benchkit.efficiency import synchronize

    torch = sys.modules.get("torch")
    synchronize(device)
    start = time.perf_counter()
    if torch is None:
        value, flops = compute(), None
    else:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            value = compute()
        flops = float(counter.get_total_flops())
    synchronize(device)
    return value, time.perf_counter() - start, flops


def cached_features(backbone: Backbone, *inputs: Any, **options: Any) -> Any:
    """``backbone.encode(*inputs, **options)``, reused from the cache when computed before (see the module docstring).

    A backbone that caches a compact intermediate itself (``caches_own_features = True``, e.g. point tokens that it
    lays onto a large pixel grid) is simply called: its own cached stage updates the counters. A backbone without an
    ``identity`` (not built by `benchkit.build_backbone`) is computed every time, and counted.
    """
    if getattr(backbone, "caches_own_features", False):
        return backbone.encode(*inputs, **options)
    device = str(getattr(backbone, "device", "cpu"))
    key = entry_key(backbone, inputs, options)
    path = folder() / key[:2] / f"{key}.npz"
    use_cache = enabled() and bool(backbone.identity)  # without an identity nothing says what the features depend on
    if use_cache:
        found = _read(path)
        if found is not None:
            value, meta = found
            _stats.entries_reused += 1
            _stats.seconds_reused += float(meta.get("seconds") or 0.0)
            _stats.flops_reused += float(meta.get("flops") or 0.0)
            return value
    value, seconds, flops = _measure(lambda: backbone.encode(*inputs, **options), device)
    _stats.entries_computed += 1
    _stats.seconds_computed += seconds
    _stats.flops_computed += flops or 0.0
    if use_cache:
        limit = limit_bytes()
        _write(path, value, seconds, flops)
        if path.stat().st_size > limit:
            path.unlink(missing_ok=True)
        else:
            evict(limit)
    return value
