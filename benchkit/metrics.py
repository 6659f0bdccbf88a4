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

How AU-PRO is exact without a per-threshold loop: PRO(t) is a weighted count of anomalous pixels above t (pixel p of
region r weighs 1 / (n_regions * |r|)), and the area under a piecewise-linear curve is a sum over those pixels of
the area each one adds. A pixel whose score ties with normal pixels enters along the diagonal segment from FPR a to
FPR b; its weight then contributes the integral of a ramp from a to b, cut at the limit. So the full curve needs,
per distinct anomalous score, only how many normal pixels score below and equal to it: two ``searchsorted`` calls
into the sorted scores of all pixels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Organized data also get the legacy quantile-threshold AU-PRO beside the exact one, with 100 thresholds (the
#: utility of 3D-ADS, M3DM and Real3D-AD) and 99 (CFM's copy), so that reproduced numbers can be set against
#: papers computed the same way.
DEFAULT_ORGANIZED = ("i_auroc", "i_aupr", "p_auroc", "p_aupr", "aupro@0.3", "aupro@0.01", "aupro@0.3/legacy100",
                     "aupro@0.01/legacy100", "aupro@0.3/legacy99", "aupro@0.01/legacy99")
DEFAULT_POINTS = ("i_auroc", "i_aupr", "p_auroc", "p_aupr")

OBJECT_METRICS = ("i_auroc", "i_aupr")
PIXEL_METRICS = ("p_auroc", "p_aupr")
_AUPRO_NAME = re.compile(r"^aupro@(?P<limit>\d*\.?\d+(?:[eE]-?\d+)?)(?:/legacy(?P<count>\d+))?$")
_REGION_STRUCTURE = np.ones((3, 3), dtype=bool)  # 8-connectivity


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


# -- ranks: the one structure every curve metric reads ---------------------------------------------------------------
@dataclass(frozen=True)
class _Ranks:
    """Counts per distinct score held by at least one positive, in ascending score order.

    For each such value v: ``pos_eq`` positives score v, ``pos_lt`` score below v, ``neg_lt`` negatives score below v
    and ``neg_eq`` negatives score v. ``weight`` (optional) is the summed AU-PRO weight of the positives at v.
    """

    n_pos: int
    n_neg: int
    pos_eq: np.ndarray
    pos_lt: np.ndarray
    neg_lt: np.ndarray
    neg_eq: np.ndarray
    weight: np.ndarray | None = None


def _ranks(all_sorted: np.ndarray, positives: np.ndarray, weights: np.ndarray | None = None) -> _Ranks:
    """Build `_Ranks` from the ascending scores of all samples and the (unsorted) scores of the positives.

    Only the positives are sorted again (they are few); their place among all samples costs one binary search per
    distinct value. A second search (for the end of a tie) is needed only where a negative ties with a positive.
    """
    if weights is None:
        pos_sorted = np.sort(positives)
        w_sorted = None
    else:
        order = np.argsort(positives)
        pos_sorted, w_sorted = positives[order], weights[order]
    n_pos, n_all = len(pos_sorted), len(all_sorted)
    new_value = np.empty(n_pos, dtype=bool)
    if n_pos:
        new_value[0] = True
        np.not_equal(pos_sorted[1:], pos_sorted[:-1], out=new_value[1:])
    starts = np.flatnonzero(new_value)
    values = pos_sorted[starts]
    pos_eq = np.diff(np.append(starts, n_pos))
    all_lt = np.searchsorted(all_sorted, values, side="left")
    # all samples equal to v sit at [all_lt, all_le); the first pos_eq of them are surely equal to v
    after = all_lt + pos_eq
    more = np.flatnonzero(all_sorted[np.minimum(after, n_all - 1)] == values)
    more = more[after[more] < n_all]
    all_le = after
    all_le[more] = np.searchsorted(all_sorted, values[more], side="right")
    weight = None if w_sorted is None else np.add.reduceat(w_sorted, starts) if n_pos else np.zeros(0)
    return _Ranks(
        n_pos=n_pos,
        n_neg=n_all - n_pos,
        pos_eq=pos_eq,
        pos_lt=starts,
        neg_lt=all_lt - starts,
        neg_eq=(all_le - all_lt) - pos_eq,
        weight=weight,
    )


def _unit(value: float) -> float:
    """Clip a score that rounding pushed a few ulps outside [0, 1] (sums of per-region weights 1 / (R |r|) need not
    add up to exactly 1 in floating point)."""
    return min(1.0, max(0.0, value))


def _auroc(r: _Ranks) -> float | None:
    """Probability that a positive outscores a negative, ties counting one half (Mann-Whitney U, in integers)."""
    if r.n_pos == 0 or r.n_neg == 0:
        return None
    twice_u = 2 * int(np.dot(r.pos_eq, r.neg_lt)) + int(np.dot(r.pos_eq, r.neg_eq))
    return twice_u / (2 * r.n_pos * r.n_neg)


def _average_precision(r: _Ranks) -> float | None:
    """Sum over thresholds of recall increase x precision; recall rises only at values held by positives."""
    if r.n_pos == 0 or r.n_neg == 0:
        return None
    true_pos = r.n_pos - r.pos_lt  # positives scoring >= v
    predicted = (r.n_pos + r.n_neg) - (r.pos_lt + r.neg_lt)  # all samples scoring >= v
    return _unit(float(np.sum(r.pos_eq * (true_pos / predicted)) / r.n_pos))


def _aupro(r: _Ranks, limit: float) -> float | None:
    """Area under the exact PRO curve up to FPR ``limit``, divided by ``limit``.

    The positives at value v enter the curve between FPR a = (negatives above v) / N and b = (negatives at or above
    v) / N, linearly (a diagonal when a < b). Their weight W adds W * integral_0^limit ramp(f) df to the area, where
    ramp goes from 0 at a to 1 at b: that is W * (limit - (a + b) / 2) when b <= limit, W * (limit - a)^2 / (2 (b - a))
    when a < limit < b, and 0 when a >= limit. The weights sum to 1, so AU-PRO = 1 - sum of W * (1 - that / limit).
    """
    if r.n_pos == 0 or r.n_neg == 0 or r.weight is None or not len(r.weight):
        return None
    n = r.n_neg
    # values ascend, so FPRs descend: the groups entering before the limit are a suffix, the fully entered ones a
    # suffix of that; compare counts of negatives, not rounded FPRs
    above = n - r.neg_lt - r.neg_eq  # negatives strictly above v: FPR a = above / n
    at_or_above = n - r.neg_lt  # FPR b = at_or_above / n
    first_in = int(np.searchsorted(-above, -limit * n, side="right"))  # first group with a < limit
    first_whole = max(first_in, int(np.searchsorted(-at_or_above, -limit * n, side="left")))  # first with b <= limit
    # sum the shortfall from a perfect curve rather than the area: the weights add up to 1 mathematically but not
    # in floating point, and this way a perfect (or perfectly wrong) detector scores exactly 1 (or 0)
    a = above[first_in:first_whole] / n
    b = at_or_above[first_in:first_whole] / n
    shortfall = float(np.sum(r.weight[:first_in]))  # entered at or after the limit: nothing under the curve
    shortfall += float(np.dot(r.weight[first_in:first_whole], 1 - (limit - a) ** 2 / (2 * (b - a) * limit)))
    a = above[first_whole:] / n
    b = at_or_above[first_whole:] / n
    shortfall += float(np.dot(r.weight[first_whole:], (a + b) / (2 * limit)))
    return _unit(1.0 - shortfall)


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
    return _auroc(_ranks(np.sort(scores), scores[positive]))


def average_precision(labels, scores) -> float | None:
    """scikit-learn's average precision (step-wise, no interpolation); None with one class only."""
    positive, scores = _object_inputs(labels, scores, "average_precision")
    return _average_precision(_ranks(np.sort(scores), scores[positive]))


class _PixelSet:
    """All pixels (points) of an evaluated set: the sorted scores of all, the scores of the anomalous ones and, for
    organized maps, each anomalous pixel's region weight. Built once and shared by every pixel-level metric."""

    def __init__(self, gts, maps, *, organized: bool, valid=None, regions: bool = False) -> None:
        if gts is None or maps is None:
            raise ValueError("pixel/point metrics need both gts and maps")
        if len(gts) != len(maps):
            raise ValueError(f"got {len(gts)} ground-truth maps but {len(maps)} anomaly maps")
        if valid is not None and len(valid) != len(maps):
            raise ValueError(f"got {len(valid)} valid masks but {len(maps)} anomaly maps")
        ndim = 2 if organized else 1
        self.maps = [np.asarray(m) for m in maps]
        self.anomalous: list[np.ndarray] = []
        self.counted: list[np.ndarray | None] = []
        for i, (gt, values) in enumerate(zip(gts, self.maps)):
            gt = np.asarray(gt)
            if values.ndim != ndim:
                kind = "(H, W) maps (organized)" if organized else "(N,) per-point maps"
                raise ValueError(f"anomaly map of sample {i} has shape {values.shape}; expected {kind}")
            if gt.shape != values.shape:
                raise ValueError(f"ground truth of sample {i} has shape {gt.shape} but its anomaly map has shape "
                                 f"{values.shape}; resize both to the evaluation resolution first")
            mask = None
            if valid is not None:
                mask = np.asarray(valid[i], dtype=bool)
                if mask.shape != values.shape:
                    raise ValueError(f"valid mask of sample {i} has shape {mask.shape}, expected {values.shape}")
            self.anomalous.append(gt > 0)
            self.counted.append(mask)
        self._regions = regions and organized

    def _counted(self, i: int, values: np.ndarray) -> np.ndarray:
        mask = self.counted[i]
        return values.ravel() if mask is None else values[mask]

    @cached_property
    def all_sorted(self) -> np.ndarray:
        """Every counted score, ascending (the one big sort). NaN sorts last, so one look finds any."""
        parts = [self._counted(i, m) for i, m in enumerate(self.maps)]
        scores = np.concatenate(parts) if parts else np.zeros(0)
        scores.sort()
        if scores.size and scores.dtype.kind == "f" and np.isnan(scores[-1]):
            bad = next(i for i, p in enumerate(parts) if np.isnan(p).any())
            raise ValueError(f"pixel/point metrics: anomaly map of sample {bad} contains NaN")
        return scores

    @cached_property
    def positives(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores of the counted anomalous pixels and, with regions, their AU-PRO weights 1 / (n_regions * |r|)."""
        scores, region_ids = [], []
        n_regions = 0
        for i, (values, anomalous) in enumerate(zip(self.maps, self.anomalous)):
            selected = anomalous if self.counted[i] is None else anomalous & self.counted[i]
            if not selected.any():
                continue
            if not self._regions:
                scores.append(values[selected])
                continue
            # label only the bounding box of the defects: they are small, and labelling whole maps dominated the cost
            cols = np.flatnonzero(anomalous.any(axis=0))
            rows = np.flatnonzero(anomalous.any(axis=1))
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            from scipy import ndimage

            labeled, count = ndimage.label(anomalous[box], structure=_REGION_STRUCTURE)
            inside = selected[box]
            scores.append(values[box][inside])
            region_ids.append(labeled[inside] + (n_regions - 1))
            n_regions += count
        if not scores:
            return np.zeros(0), (np.zeros(0) if self._regions else None)
        pos = np.concatenate(scores)
        if not self._regions:
            return pos, None
        ids = np.concatenate(region_ids)
        sizes = np.bincount(ids, minlength=n_regions)
        kept = np.count_nonzero(sizes)  # regions left without counted pixels are dropped
        return pos, 1.0 / (kept * sizes[ids])

    @cached_property
    def ranks(self) -> _Ranks:
        pos, weights = self.positives
        return _ranks(self.all_sorted, pos, weights)

    def negatives_at(self, ranks: np.ndarray) -> np.ndarray:
        """The counted normal scores at the given ranks (0-based, ascending): the legacy AU-PRO's quantile
        thresholds, read off the one big sort by binary search instead of sorting the normal scores again (a second
        full-size sorted copy would double the memory; a few hundred searches cost milliseconds)."""
        scores = self.all_sorted
        positives = np.sort(self.positives[0])

        def normals_up_to(j: int) -> int:  # counted normal scores <= scores[j]
            v = scores[j]
            return int(np.searchsorted(scores, v, "right") - np.searchsorted(positives, v, "right"))

        out = np.empty(len(ranks), dtype=scores.dtype)
        for i, k in enumerate(np.asarray(ranks, dtype=np.int64)):
            lo, hi = 0, scores.size - 1
            while lo < hi:  # the smallest index whose value has more than k normal scores at or below it
                mid = (lo + hi) // 2
                if normals_up_to(mid) > k:
                    hi = mid
                else:
                    lo = mid + 1
            out[i] = scores[lo]
        return out


def aupro(gts, maps, limit: float = 0.3, *, valid=None) -> float | None:
    """Exact AU-PRO over all thresholds up to FPR ``limit`` (see the module docstring); None without regions."""
    parse_aupro(f"aupro@{limit}")
    return _aupro(_PixelSet(gts, maps, organized=True, valid=valid, regions=True).ranks, limit)


def _legacy_aupro(pixels: _PixelSet, limit: float, num_thresholds: int) -> float | None:
    """The quantile-threshold AU-PRO of the BTF / M3DM / Real3D-AD utility (utils/au_pro_util.py), step by step."""
    pos, weights = pixels.positives
    n_ok = pixels.all_sorted.size - pos.size
    if not n_ok or weights is None or not weights.size:
        return None
    # 2. thresholds at evenly spaced positions over the sorted OK scores; a region pixel counts when strictly above
    positions = np.linspace(0, n_ok - 1, num=num_thresholds, dtype=int)
    thresholds = pixels.negatives_at(positions)
    fprs = 1.0 - (positions + 1) / n_ok
    order = np.argsort(pos, kind="stable")
    not_detected = np.concatenate([[0.0], np.cumsum(weights[order])])
    pros = 1.0 - not_detected[np.searchsorted(pos[order], thresholds, side="right")]
    # 3. prepend (FPR=1, PRO=1), then order by ascending FPR (the reference reverses the lists)
    x = np.concatenate([[1.0], fprs])[::-1]
    y = np.concatenate([[1.0], pros])[::-1]
    # 4. trapezoid up to the limit, PRO interpolated linearly at the limit when it is not a sample point
    correction = 0.0
    if limit not in x:
        ins = int(np.searchsorted(x, limit, side="right"))
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (limit - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (limit - x[ins - 1])
    keep = x <= limit
    x, y = x[keep], y[keep]
    area = float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1]))) + correction
    return _unit(area / limit)


def aupro_legacy(gts, maps, limit: float = 0.3, num_thresholds: int = 100, *, valid=None) -> float | None:
    """The AU-PRO the field reports: ``num_thresholds`` quantile thresholds over the normal pixels' scores."""
    parse_aupro(f"aupro@{limit}/legacy{num_thresholds}")
    return _legacy_aupro(_PixelSet(gts, maps, organized=True, valid=valid, regions=True), limit, num_thresholds)


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
        ranks = _ranks(np.sort(object_scores), object_scores[positive])
        if "i_auroc" in names:
            out["i_auroc"] = _auroc(ranks)
        if "i_aupr" in names:
            out["i_aupr"] = _average_precision(ranks)
    pixel_names = [n for n in names if n not in OBJECT_METRICS]
    if gts is None or not pixel_names:
        return out
    if labels is not None and len(gts) != len(labels):
        raise ValueError(f"got {len(labels)} labels but {len(gts)} ground-truth maps")
    aupros = {n: parse_aupro(n) for n in pixel_names if n not in PIXEL_METRICS}
    pixels = _PixelSet(gts, maps, organized=organized, valid=valid, regions=bool(aupros))
    for name in pixel_names:
        if name == "p_auroc":
            out[name] = _auroc(pixels.ranks)
        elif name == "p_aupr":
            out[name] = _average_precision(pixels.ranks)
        elif aupros[name].count is None:
            out[name] = _aupro(pixels.ranks, aupros[name].limit)
        else:
            out[name] = _legacy_aupro(pixels, aupros[name].limit, aupros[name].count)
    return out
