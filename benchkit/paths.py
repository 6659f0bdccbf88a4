"""Where benchkit finds and keeps things on disk; each location can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Generated data and preprocessing caches: $BENCHKIT_CACHE, else ~/.cache/benchkit."""
    env = os.environ.get("BENCHKIT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "benchkit"


def data_root(explicit: str | Path | None = None) -> Path | None:
    """The folder holding one subdirectory per real dataset: the explicit one (--data-root), else $BENCHKIT_DATA."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BENCHKIT_DATA")
    return Path(env) if env else None


def weights_dir() -> Path:
    """Where pretrained weights are looked up: $BENCHKIT_WEIGHTS, else ~/.cache/benchkit/weights. Never downloaded."""
    env = os.environ.get("BENCHKIT_WEIGHTS")
    return Path(env) if env else Path.home() / ".cache" / "benchkit" / "weights"
