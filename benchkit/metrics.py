"""Exact, tie-consistent detection metrics: AUROC, AP and AU-PRO (plus the legacy quantile AU-PRO).

Why hand-written: scikit-learn's ``roc_auc_score`` / ``average_precision_score`` are exact but argsort every pixel
(seconds per category), and the AU-PRO the field reports samples only ``num_thresholds`` quantile thresholds, so its
value at small FPR limits depends on that count (utils/au_pro_util.py of eliahuhorwitz/3D-ADS, nomewang/M3DM and
M-3LAB/Real3D-AD, identical copies). Here every metric is computed exactly, over all
thresholds, from one ``numpy.sort`` of all scores plus work on the (few) anomalous pixels only.

Conventions (pinned by tests/test_metrics*.py):

- Thresholds lie between distinct scores: all samples with an equal score move together. On the curves this means a
  tie between normal and anomalous samples is a straight (diagonal) segment, as in scikit-learn's ``roc_curve``.
- ``auroc``: area under the ROC curve (equals scikit-learn's ``roc_auc_score``; ties count one half).
- ``average_precision`` (reported as ``i_aupr`` / ``p_aupr``): scikit-learn's ``average_precision_score``,
  sum over thresholds of (recall increase) x precision, step-wise, no interpolation.
- ``aupro`` (``aupro@<limit>``): ground-truth regions are the 8-connected components (3x3 structure) of each map's
  ground truth (``gt > 0``); PRO at a threshold is the unweighted mean, over all regions of the evaluated set, of the
  fraction of the region's pixels scoring above it; FPR is over all non-anomalous pixels of the set, normal maps
  included. The curve through every threshold, starting at (0, 0), is integrated up to FPR = limit (linear
  interpolation at the limit) and divided by the limit.
- ``aupro_legacy`` (``aupro@<limit>/legacy<count>``): the quantile-threshold utility copied into BTF, M3DM and
  Real3D-AD (their utils/au_pro_util.py), reproduced step by step for a given threshold count.
- Pixel/point metrics pool every pixel (point) of every sample of the evaluated set: one curve over the
  concatenation, not a mean per sample. Organized inputs: by default all pixels at the evaluation resolution count
  (the MVTec 3D-AD community convention: background and missing points are negatives); pass ``valid`` masks to score
  only valid pixels. With masks, AU-PRO regions are still the components of the full ground truth, each counting
  only its valid pixels (a region with none is dropped).
- A metric undefined on the input (one class only, no ground-truth region) is ``None``, never NaN.

The exact curve arithmetic lives in `benchkit.metrics_ranks`, the pooled pixels, AU-PRO regions and the legacy
AU-PRO in `benchkit.metrics_pixels`; this module is the one to import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchkit.metrics_pixels import PixelSet, legacy_aupro
from benchkit.metrics_ranks import aupro_of, auroc_of, average_precision_of, count_ranks

#: Organized data also get the legacy quantile-threshold AU-PRO beside the exact one, with 100 thresholds (the
#: utility of 3D-ADS, M3DM and Real3D-AD) and 99 (CFM's copy), so that reproduced numbers can be set against
#: papers computed the same way.
DEFAULT_ORGANIZED = ("i_auroc", "i_aupr", "p_auroc", "p_aupr", "aupro@0.3", "aupro@0.01", "aupro@0.3/legacy100",
                     "aupro@0.01/legacy100", "aupro@0.3/legacy99", "aupro@0.01/legacy99")
DEFAULT_POINTS = ("i_auroc", "i_aupr", "p_auroc", "p_aupr")

OBJECT_METRICS = ("i_auroc", "i_aupr")
PIXEL_METRICS = ("p_auroc", "p_aupr")
_AUPRO_NAME = re.compile(r"^aupro@(?P<limit>\d*\.?\d+(?:[eE]-?\d+)?)(?:/legacy(?P<count>\d+))?$")


# -- metric names ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuproName:
    """A parsed ``aupro@<limit>`` or ``aupro@<limit>/legacy<count>`` name (``count`` None for the exact variant)."""

    limit: float
    count: int | None = None


def parse_aupro(name: str) -> AuproName | None:
    """The limit and legacy threshold count of an AU-PRO metric name, None when ``name`` is not an AU-PRO name."""
    match = _AUPRO_NAME.match(name)
    if not match:
        return None
    limit = float(match["limit"])
    if not 0.0 < limit <= 1.0:
        raise ValueError(f"metric {name!r}: the FPR limit must lie in (0, 1], e.g. aupro@0.3")
    count = None if match["count"] is None else int(match["count"])
    if count is not None and count < 2:
        # one threshold puts the only curve point at FPR 1 - 1/N: the copied utility then fails its own assertion
        raise ValueError(f"metric {name!r}: the legacy threshold count must be at least 2, e.g. aupro@0.3/legacy100")
    return AuproName(limit, count)


def check_metric_names(names: Sequence[str], organized: bool) -> None:
    """ValueError naming the first metric name that is unknown, or that needs organized maps when they are not."""
    _check_names(names, organized)


def _check_names(names: Sequence[str], organized: bool) -> None:
    for name in names:
        if name in OBJECT_METRICS or name in PIXEL_METRICS:
            continue
        if parse_aupro(name) is None:
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(OBJECT_METRICS + PIXEL_METRICS)}, "
                             f"aupro@<limit> and aupro@<limit>/legacy<count>")
        if not organized:
            raise ValueError(f"metric {name!r} needs organized (H, W) maps: AU-PRO regions are connected pixel "
                             f"components; use p_auroc / p_aupr for per-point maps")


# -- inputs ----------------------------------------------------------------------------------------------------------
def _object_inputs(labels, scores, metric: str) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64) if np.asarray(scores).dtype == object else np.asarray(scores)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(f"{metric}: labels and scores must be 1-D of equal length, got shapes {labels.shape} and "
                         f"{scores.shape}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
        raise ValueError(f"{metric}: label of sample {bad} is {labels[bad]!r}; labels must be 0 (normal) or 1 "
                         f"(anomalous)")
    if scores.dtype.kind == "f" and np.isnan(scores).any():
        raise ValueError(f"{metric}: score of sample {int(np.flatnonzero(np.isnan(scores))[0])} is NaN")
    return labels.astype(bool), scores


def auroc(labels, scores) -> float | None:
    """Area under the ROC curve of 0/1 ``labels`` by ``scores`` (tie-exact); None with one class only."""
    positive, scores = _object_inputs(labels, scores, "auroc")
    return auroc_of(count_ranks(np.sort(scores), scores[positive]))


def average_precision(labels, scores) -> float | None:
    """scikit-learn's average precision (step-wise, no interpolation); None with one class only."""
    positive, scores = _object_inputs(labels, scores, "average_precision")
    return average_precision_of(count_ranks(np.sort(scores), scores[positive]))


def aupro(gts, maps, limit: float = 0.3, *, valid=None) -> float | None:
    """Exact AU-PRO over all thresholds up to FPR ``limit`` (see `benchkit.metrics_ranks`); None without regions."""
    parse_aupro(f"aupro@{limit}")
    return aupro_of(PixelSet(gts, maps, organized=True, valid=valid, regions=True).ranks, limit)


def aupro_legacy(gts, maps, limit: float = 0.3, num_thresholds: int = 100, *, valid=None) -> float | None:
    """The AU-PRO the field reports: ``num_thresholds`` quantile thresholds over the normal pixels' scores."""
    parse_aupro(f"aupro@{limit}/legacy{num_thresholds}")
    return legacy_aupro(PixelSet(gts, maps, organized=True, valid=valid, regions=True), limit, num_thresholds)


def compute_metrics(labels, scores, gts=None, maps=None, *, organized: bool, names=None,
                    valid=None) -> dict[str, float | None]:
    """Every requested metric of one evaluated set (usually one category), keyed by metric name.

    ``labels`` (n,) 0/1 and ``scores`` (n,) are object level. ``gts`` / ``maps`` are lists of n arrays of equal
    shapes, (H, W) when ``organized`` else (N_i,), already at the evaluation resolution; without them the pixel/point
    metrics are left out. ``names`` default to `DEFAULT_ORGANIZED` or `DEFAULT_POINTS`; any ``aupro@<limit>`` and
    ``aupro@<limit>/legacy<count>`` is accepted. ``valid``: optional boolean masks (organized inputs) of the pixels
    to score. An undefined metric is None.
    """
    names = tuple(names) if names is not None else (DEFAULT_ORGANIZED if organized else DEFAULT_POINTS)
    _check_names(names, organized)
    out: dict[str, float | None] = {}
    if any(n in OBJECT_METRICS for n in names):
        positive, object_scores = _object_inputs(labels, scores, "i_auroc/i_aupr")
        ranks = count_ranks(np.sort(object_scores), object_scores[positive])
        if "i_auroc" in names:
            out["i_auroc"] = auroc_of(ranks)
        if "i_aupr" in names:
            out["i_aupr"] = average_precision_of(ranks)
    pixel_names = [n for n in names if n not in OBJECT_METRICS]
    if gts is None or not pixel_names:
        return out
    if labels is not None and len(gts) != len(labels):
        raise ValueError(f"got {len(labels)} labels but {len(gts)} ground-truth maps")
    aupros = {n: parse_aupro(n) for n in pixel_names if n not in PIXEL_METRICS}
    pixels = PixelSet(gts, maps, organized=organized, valid=valid, regions=bool(aupros))
    for name in pixel_names:
        if name == "p_auroc":
            out[name] = auroc_of(pixels.ranks)
        elif name == "p_aupr":
            out[name] = average_precision_of(pixels.ranks)
        elif aupros[name].count is None:
            out[name] = aupro_of(pixels.ranks, aupros[name].limit)
        else:
            out[name] = legacy_aupro(pixels, aupros[name].limit, aupros[name].count)
    return out
