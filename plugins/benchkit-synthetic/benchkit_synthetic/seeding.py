"""The random stream of one generated sample, shared by both generators."""

from __future__ import annotations

import zlib

import numpy as np


def sample_rng(seed: int, category: str, split: str, index: int) -> np.random.Generator:
    """One independent stream per sample, so a sample does not depend on how many others are generated."""
    return np.random.default_rng([seed, zlib.crc32(category.encode()), zlib.crc32(split.encode()), index])
