"""Scoring: detectors' per-sample predictions against the answers, into metrics. Shared by `run` and `evaluate`.

This step runs in the answer process (`benchkit.answers`), which imports no detector plugin: the answers (labels,
defect types, ground truth) are loaded here from the dataset, matched to the predictions the worker returned, and
scored. Organized maps are resized
to the dataset's evaluation size (bilinear; ground truth nearest) before scoring, as the community does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchkit.datasets import Dataset
from benchkit.errors import BenchkitError
from benchkit.jobs import ALL, Job
from benchkit.results import Counts
from benchkit.sample import Sample, SampleRef
from benchkit.settings import Plan


@dataclass
class Predictions:
    """What a worker hands back for the test samples of a job, in the plan's test order."""

    scores: list[float] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)


@dataclass
class ScoredSamples:
    """Labels, object scores, ground truth and maps of scored test samples, at the evaluation resolution."""

    labels: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    gts: list[np.ndarray] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)
    organized: bool = False

    def add(self, sample: Sample, category: str, score: float, values: np.ndarray,
            eval_size: tuple[int, int] | None) -> None:
        """One answered sample and its prediction; organized maps and ground truth go to the evaluation size."""
        if sample.label is None:
            raise BenchkitError(f"test sample {sample.id} of {category} has no label; unlabelled splits cannot be "
                                f"scored")
        gt = sample.gt if sample.gt is not None else np.zeros(sample.map_shape, np.uint8)
        if sample.organized:
            self.organized = True
            size = eval_size or gt.shape
            values = resize_map(values, size)
            gt = resize_map(gt.astype(np.float32), size, nearest=True) > 0.5
        self.labels.append(int(sample.label))
        self.scores.append(float(score))
        self.categories.append(category)
        self.ids.append(sample.id)
        self.gts.append(np.asarray(gt, dtype=np.uint8))
        self.maps.append(np.asarray(values, dtype=np.float32))

    def subset(self, categories: Sequence[str]) -> ScoredSamples:
        keep = [i for i, c in enumerate(self.categories) if c in set(categories)]
        return ScoredSamples(**{f: [getattr(self, f)[i] for i in keep] for f in
                                ("labels", "scores", "categories", "ids", "gts", "maps")}, organized=self.organized)


def resize_map(values: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resize a 2-D map to (H, W): bilinear for scores, nearest for masks (PIL, float32)."""
    from PIL import Image

    if values.shape == tuple(size):
        return values
    mode = Image.NEAREST if nearest else Image.BILINEAR
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size[1], size[0]), mode), dtype=np.float32)


def check_map(values: np.ndarray, sample: Sample, detector: str) -> np.ndarray:
    """The detector's map as float32, or a ValueError saying what shape it should have had."""
    values = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"detector {detector} returned a non-finite map for sample {sample.id}")
    if sample.organized:
        if values.ndim != 2:
            raise ValueError(f"detector {detector}: map of sample {sample.id} has shape {values.shape}; an organized "
                             f"sample needs a 2-D map (any size, it is resized to the evaluation size)")
    elif values.shape != sample.map_shape:
        raise ValueError(f"detector {detector}: map of sample {sample.id} has shape {values.shape}, expected "
                         f"{sample.map_shape} (one score per point)")
    return values


def score_predictions(job: Job, dataset: Dataset, refs: Sequence[SampleRef], predictions: Predictions) -> ScoredSamples:
    """Match a job's predictions with the answers of its test samples (loaded here, in the scoring process)."""
    if len(predictions.scores) != len(refs) or len(predictions.maps) != len(refs):
        raise ValueError(f"{job.describe()}: {len(predictions.scores)} predictions for {len(refs)} test samples")
    scored = ScoredSamples()
    for ref, score, values in zip(refs, predictions.scores, predictions.maps):
        sample = dataset.load(ref)
        scored.add(sample, sample.category or ref.category, score, check_map(values, sample, job.detector),
                   dataset.eval_size)
    return scored


def score_metrics(scored: ScoredSamples, names: Sequence[str] | None = None) -> dict[str, dict[str, float | None]]:
    """Metrics per category, plus their ``mean`` when there are several (None when any category lacks a value).
    ``names``: the metrics to compute (default: `benchkit.metrics.DEFAULT_ORGANIZED` or ``DEFAULT_POINTS``)."""
    from benchkit.metrics import compute_metrics

    if names is not None and not scored.organized:  # AU-PRO needs pixel regions: left out for point clouds
        names = [n for n in names if not n.startswith("aupro@")]
    cats = sorted(set(scored.categories))
    out: dict[str, dict[str, float | None]] = {}
    for cat in cats:
        idx = [i for i, c in enumerate(scored.categories) if c == cat]
        out[cat] = compute_metrics(
            np.asarray([scored.labels[i] for i in idx]), np.asarray([scored.scores[i] for i in idx]),
            [scored.gts[i] for i in idx], [scored.maps[i] for i in idx], organized=scored.organized, names=names,
        )
    if len(cats) > 1:
        names = out[cats[0]].keys()
        out["mean"] = {
            n: (None if any(out[c][n] is None for c in cats) else float(np.mean([out[c][n] for c in cats])))
            for n in names
        }
    return out


def sample_counts(plan: Plan, scored: ScoredSamples) -> dict[str, Counts]:
    counts = {}
    for cat in sorted(set(scored.categories)):
        labels = [lab for lab, c in zip(scored.labels, scored.categories) if c == cat]
        train = sum(r.category == cat for r in plan.train) if plan.category == ALL else len(plan.train)
        counts[cat] = Counts(train=train, test_normal=labels.count(0), test_anomalous=labels.count(1))
    return counts
