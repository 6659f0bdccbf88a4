"""One way to derive random streams from the job seed, used by the harness's settings and by every plugin.

``rng(seed, "few-shot", category)`` gives a numpy Generator that depends only on the seed and the keys, never on
what else was drawn before, so that a category's subset does not change when other categories are added.
"""

from __future__ import annotations

import zlib

import numpy as np


def _entropy(key: object) -> int:
    if isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"rng keys must be non-negative integers or strings, got {key}")
        return int(key)
    if isinstance(key, str):
        return zlib.crc32(key.encode())  # stable across processes and Python versions, unlike hash()
    raise TypeError(f"rng keys must be integers or strings, got {type(key).__name__}")


def rng(seed: int, *keys: object) -> np.random.Generator:
    """A generator seeded by ``seed`` and the keys (integers or strings), independent of any other stream."""
    return np.random.default_rng([_entropy(seed), *(_entropy(k) for k in keys)])


def torch_generator(seed: int, *keys: object):
    """A ``torch.Generator`` seeded from the same stream as `rng` (torch imported on use)."""
    import torch

    g = torch.Generator()
    g.manual_seed(int(rng(seed, *keys).integers(0, 2**63 - 1)))
    return g
