"""Hostile detectors for the leak tests: each one's object score is one channel through which an answer could reach
detector code. Registered through BENCHKIT_PLUGINS like any local plugin; they use only the public API.

Each spy returns a constant (flat) map and a score computed from its channel only, so its I-AUROC measures how much
that channel says about the labels: 0.5 (chance) when the harness closes it, near 1 when it leaks.
"""

from __future__ import annotations

import gc
import json
import sys

import numpy as np

from benchkit import Detector, DetectorSpec, Prediction, Sample, SampleRef, hookimpl

NORMAL_WORDS = ("good", "positive")


def id_score(sample: Sample) -> float:
    """Dataset ids name the defect (``2_missing``, ``crack/003``): anomalous unless the id says good."""
    return 0.0 if any(w in sample.id.lower() for w in NORMAL_WORDS) else 1.0


def meta_score(sample: Sample) -> float:
    """Metadata that names files names their defect folder or ground-truth file."""
    text = json.dumps(sample.meta, default=str).lower()
    if text in ("{}", "null"):
        return 0.5
    return 0.0 if any(w in text for w in NORMAL_WORDS) else 1.0


def precision_score(sample: Sample) -> float:
    """Share of coordinates that are float32 images of 6-decimal numbers (text-sourced clouds: all of them)."""
    pts = sample.points if sample.points is not None else sample.xyz[sample.valid]
    v = np.asarray(pts, dtype=np.float32).ravel()
    return float(np.mean(np.round(v.astype(np.float64), 6).astype(np.float32) == v))


def answered_objects() -> list:
    """Everything with an answer in this process: the callers' frames and every live object, kept if it is a
    labelled test ref or a sample with a label and ground truth."""
    frame = sys._getframe(1)
    seen = []
    while frame is not None:
        seen.extend(frame.f_locals.values())
        frame = frame.f_back
    keep = []
    for obj in seen + gc.get_objects():
        if isinstance(obj, SampleRef) and obj.split == "test" and obj.label is not None:
            keep.append(obj)
        elif isinstance(obj, Sample) and obj.label is not None and obj.gt is not None:
            keep.append(obj)
    return keep


def frame_score(sample: Sample, found: list | None = None) -> float:
    """The label of an answered copy of this sample (same geometry) or of a labelled test ref naming it."""
    geometry = sample.points if sample.points is not None else sample.xyz
    for obj in answered_objects() if found is None else found:
        if isinstance(obj, SampleRef) and obj.id == sample.id:
            return float(obj.label)
        if isinstance(obj, Sample) and obj is not sample:
            other = obj.points if obj.points is not None else obj.xyz
            if other is not None and other.shape == geometry.shape and np.allclose(other, geometry, atol=1e-5):
                return float(obj.label)
    return 0.5


class Spy(Detector):
    channel = ""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, samples):
        self.calls = 0
        self.fit_labels = self._labels_from(samples)
        return self

    @staticmethod
    def _labels_from(samples) -> dict[str, int]:
        """What a handle on the dataset behind the training sequence would give: every test label by id."""
        found: dict[str, int] = {}
        for name in ("dataset", "_dataset", "datasets", "_datasets", "refs", "_refs"):
            handle = getattr(samples, name, None)
            datasets = handle.values() if isinstance(handle, dict) else [handle]
            for ds in datasets:
                if hasattr(ds, "categories") and hasattr(ds, "index"):
                    for cat in ds.categories():
                        found.update({r.id: r.label for r in ds.index(cat, "test")})
        return found

    def channel_score(self, sample: Sample) -> float:
        raise NotImplementedError

    def predict(self, samples):
        out = []
        for s in samples:
            self.calls += 1
            out.append(Prediction(self.channel_score(s), np.zeros(s.map_shape, dtype=np.float32)))
        return out


class IdSpy(Spy):
    def channel_score(self, sample):
        return id_score(sample)


class MetaSpy(Spy):
    def channel_score(self, sample):
        return meta_score(sample)


class PrecisionSpy(Spy):
    def channel_score(self, sample):
        return precision_score(sample)


class OrderSpy(Spy):
    """The position of the sample in the stream (test splits are stored grouped by defect folder)."""

    def channel_score(self, sample):
        return float(self.calls)


class FitSequenceSpy(Spy):
    def channel_score(self, sample):
        return float(self.fit_labels.get(sample.id, 0.5))


class FrameSpy(Spy):
    """Searches its process (frames and live objects) at fit and at the first predictions."""

    def fit(self, samples):
        super().fit(samples)
        self.found = answered_objects()
        return self

    def channel_score(self, sample):
        if self.calls <= 3:
            self.found += answered_objects()
        return frame_score(sample, self.found)


SPIES = {"spy-id": IdSpy, "spy-meta": MetaSpy, "spy-precision": PrecisionSpy, "spy-order": OrderSpy,
         "spy-fit-sequence": FitSequenceSpy, "spy-frames": FrameSpy}


@hookimpl
def register_detectors(register):
    for name, cls in SPIES.items():
        register(DetectorSpec(name, "1", f"Leak test: object score from one channel ({cls.__doc__ or name})", cls,
                              frozenset({"points"}), trains=True))
