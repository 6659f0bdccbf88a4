"""``hashed-words``: a weight-free stand-in for a CLIP text encoder (kind ``text``), for machines without CLIP weights.

Every lower-cased word gets a fixed pseudo-random unit vector drawn from a stream keyed by the word
(`benchkit.rng`), and a sentence is the normalised mean of its words' vectors. Sentences about the same class share
its name's words, so each class gets fixed embeddings of its own; there is no learned language knowledge
("flawless" is no nearer "perfect" than "damaged"). Results computed with it are not the paper's: the detector
variant using it is named ``text-guided-weightfree``.
"""

from __future__ import annotations

import re

import numpy as np

from benchkit import Backbone, rng


class HashedWords(Backbone):
    def __init__(self, dim: int = 64) -> None:
        if dim < 2:
            raise ValueError(f"hashed-words: dim must be at least 2, got {dim}")
        self.dim = dim
        self.output_dim = dim

    def _word(self, word: str) -> np.ndarray:
        v = rng(0, "hashed-words", word).standard_normal(self.dim)
        return v / np.linalg.norm(v)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", text.lower())
            if words:
                v = np.mean([self._word(w) for w in words], axis=0)
                out[i] = v / max(np.linalg.norm(v), 1e-12)
        return out
