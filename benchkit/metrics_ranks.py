"""The one structure every curve metric reads, and AUROC, average precision and the exact AU-PRO computed from it.

How AU-PRO is exact without a per-threshold loop: PRO(t) is a weighted count of anomalous pixels above t (pixel p of
region r weighs 1 / (n_regions * |r|)), and the area under a piecewise-linear curve is a sum over those pixels of
the area each one adds. A pixel whose score ties with normal pixels enters along the diagonal segment from FPR a to
FPR b; its weight then contributes the integral of a ramp from a to b, cut at the limit. So the full curve needs,
per distinct anomalous score, only how many normal pixels score below and equal to it: two ``searchsorted`` calls
into the sorted scores of all pixels.

The conventions (ties, undefined values) are those of `benchkit.metrics`, the public entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranks:
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


def count_ranks(all_sorted: np.ndarray, positives: np.ndarray, weights: np.ndarray | None = None) -> Ranks:
    """Build `Ranks` from the ascending scores of all samples and the (unsorted) scores of the positives.

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
    return Ranks(
        n_pos=n_pos,
        n_neg=n_all - n_pos,
        pos_eq=pos_eq,
        pos_lt=starts,
        neg_lt=all_lt - starts,
        neg_eq=(all_le - all_lt) - pos_eq,
        weight=weight,
    )


def unit(value: float) -> float:
    """Clip a score that rounding pushed a few ulps outside [0, 1] (sums of per-region weights 1 / (R |r|) need not
    add up to exactly 1 in floating point)."""
    return min(1.0, max(0.0, value))


def auroc_of(r: Ranks) -> float | None:
    """Probability that a positive outscores a negative, ties counting one half (Mann-Whitney U, in integers)."""
    if r.n_pos == 0 or r.n_neg == 0:
        return None
    twice_u = 2 * int(np.dot(r.pos_eq, r.neg_lt)) + int(np.dot(r.pos_eq, r.neg_eq))
    return twice_u / (2 * r.n_pos * r.n_neg)


def average_precision_of(r: Ranks) -> float | None:
    """Sum over thresholds of recall increase x precision; recall rises only at values held by positives."""
    if r.n_pos == 0 or r.n_neg == 0:
        return None
    true_pos = r.n_pos - r.pos_lt  # positives scoring >= v
    predicted = (r.n_pos + r.n_neg) - (r.pos_lt + r.neg_lt)  # all samples scoring >= v
    return unit(float(np.sum(r.pos_eq * (true_pos / predicted)) / r.n_pos))


def aupro_of(r: Ranks, limit: float) -> float | None:
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
    return unit(1.0 - shortfall)
