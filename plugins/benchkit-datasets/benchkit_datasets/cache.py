"""On-disk cache of preprocessed arrays, so a second run does not redo plane fits or down-sampling.

An entry is one ``.npz`` file whose name is a hash of the input files (absolute path, modification time, size) and
the preprocessing parameters: editing a file or changing a parameter gives a new key, never a stale result.
Folder: the ``cache_dir`` dataset option, else ``$BENCHKIT_CACHE``, else ``~/.cache/benchkit``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import benchkit

#: Bump when a preprocessing function changes its output for the same parameters.
CACHE_FORMAT = 1


def cache_root(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir) if cache_dir else benchkit.cache_dir()


def cache_key(files: Sequence[str | Path], params: dict) -> str:
    parts = []
    for f in files:
        p = Path(f).resolve()
        st = p.stat()
        parts.append([str(p), st.st_mtime_ns, st.st_size])
    blob = json.dumps({"files": parts, "params": params, "format": CACHE_FORMAT}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cached_arrays(
    folder: Path, files: Sequence[str | Path], params: dict, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``compute()`` once per (files, params); later calls load the stored arrays. Writes are atomic, so parallel
    workers computing the same entry never see a half-written file."""
    key = cache_key(files, params)
    target = folder / key[:2] / f"{key}.npz"
    if target.is_file():
        try:
            with np.load(target) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError):  # a damaged entry is recomputed, not fatal
            pass
    arrays = compute()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return arrays
