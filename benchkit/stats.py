"""Statistics over result records: spread over seeds, seeds that are copies, bootstrap intervals over test samples.

The paired comparison of two detectors built on these lives in `benchkit.comparison`.

Bootstrap (what is resampled and why)
-------------------------------------
The unit of resampling is always a whole *test sample* (one image or one point cloud), drawn with replacement
within each category (stratified), never single pixels or points: pixels of one sample are strongly correlated,
so resampling them would give intervals that are far too narrow. A replicate of a pixel/point-level metric
therefore weights every pixel by how often its sample was drawn.

Cost: object-level intervals (``i_auroc``, ``i_aupr``) are cheap and are computed from a record's ``samples`` at
any time. Pixel/point-level intervals (``p_auroc``, ``p_aupr``) need the anomaly maps, which only exist while the
job runs, so the runner calls `bootstrap_intervals` at job time and stores the result in ``Record.intervals``.
scikit-learn's ``roc_auc_score(sample_weight=...)`` would give the same numbers but sorts all pixels again for
every replicate (about 3 s per replicate on 5.5M pixels), so the weighted metrics below are hand-written and
pinned to scikit-learn by tests: ``p_auroc`` counts (positive, negative) pixel pairs per pair of samples once,
after which a replicate is a 2-D quadratic form (~0.1 s for 1,000 replicates of 120 maps of 224x224);
``p_aupr`` sorts all pixels once and costs a cumulative sum per replicate (~0.5 s each on 6M pixels), so it
is opt-in (``n_boot_maps``). AU-PRO gets no interval: its per-region
overlaps and FPR quantile thresholds would have to be recomputed per replicate, which is as expensive as the
metric itself times ``n_boot``.

Intervals are percentile intervals (2.5 % and 97.5 % quantiles of the replicates for 95 %), seeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Metrics with a bootstrap interval; the ``i_`` ones come from object scores, the ``p_`` ones from maps.
OBJECT_METRICS = ("i_auroc", "i_aupr")
MAP_METRICS = ("p_auroc", "p_aupr")
#: Below this many matched pairs a two-sided Wilcoxon test cannot reach p < 0.05 (n=5 gives at best p=0.0625).
MIN_PAIRS = 6


# ----------------------------------------------------------------------------------------------------------------
# spread over seeds


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    """Mean, sample standard deviation (ddof=1; None for a single value) and count of the non-missing values."""
    arr = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if arr.size == 0:
        return None, None, 0
    std = float(arr.std(ddof=1)) if arr.size > 1 else None
    return float(arr.mean()), std, int(arr.size)


# ----------------------------------------------------------------------------------------------------------------
# weighted AUROC / AP over a fixed order


class _SortedScores:
    """Scores sorted once, with tie groups, so that weighted AUROC and AP cost O(n) per replicate.

    ``owner[i]`` (optional) is the test sample that element i belongs to; `by_owner` then takes one weight per
    sample and spreads it over that sample's elements in sorted order (a gather from a tiny array, much cheaper
    than re-ordering a full-length weight vector).
    """

    def __init__(self, labels: np.ndarray, scores: np.ndarray, owner: np.ndarray | None = None) -> None:
        order = np.argsort(-scores, kind="stable")
        s = scores[order]
        self.order = order
        self.pos = labels[order].astype(bool).astype(float)  # float: w * pos is a plain multiply
        self.owner = None if owner is None else owner[order]
        # index of the last element of each run of equal scores (descending order); None when all are distinct
        ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
        self.group_ends = None if ends.size == s.size else ends

    def by_owner(self, sample_weights: np.ndarray) -> tuple[float, float]:
        """(AUROC, AP) with every element weighted by the weight of its sample."""
        auroc, ap = self._metrics(sample_weights[self.owner])
        return float(auroc[0]), float(ap[0])

    def __call__(self, weights: np.ndarray) -> tuple[float, float]:
        """(AUROC, AP) with one weight per element, given in the original (unsorted) order."""
        auroc, ap = self.replicates(np.asarray(weights)[None, :])
        return float(auroc[0]), float(ap[0])

    def replicates(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(AUROC, AP) arrays for a replicates x elements weight matrix in the original order: the whole bootstrap in
        a few array operations, where one call per replicate spent its time in numpy's per-call overhead."""
        return self._metrics(weights[:, self.order])

    def _metrics(self, w_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w_sorted = np.atleast_2d(w_sorted)
        tp = np.cumsum(w_sorted * self.pos, axis=1)
        fp = np.cumsum(w_sorted, axis=1) - tp
        if self.group_ends is not None:
            tp, fp = tp[:, self.group_ends], fp[:, self.group_ends]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = tp / tp[:, -1:]
            precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
            # AP: step-wise sum of recall increase times precision (no interpolation), as scikit-learn computes it
            ap = np.sum(np.diff(recall, axis=1, prepend=0.0) * precision, axis=1)
            zeros = np.zeros((len(tp), 1))
            tpr, fpr = np.hstack([zeros, recall]), np.hstack([zeros, fp / fp[:, -1:]])
            # trapezoids: a tie between a positive and a negative counts one half, as in scikit-learn
            auroc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
        no_positive, no_negative = tp[:, -1] <= 0, fp[:, -1] <= 0
        ap[no_positive] = np.nan
        auroc[no_positive | no_negative] = np.nan
        return auroc, ap


class _PairCounts:
    """Pixel AUROC under sample resampling, exact and cheap: AUROC is a sum over (positive pixel, negative pixel)
    pairs, and a replicate weights the pair (i in sample s, j in sample t) by c_s * c_t. So the pair counts
    A[s, t] = #{positive of s > negative of t} + 1/2 #{ties} are computed once, and a replicate costs
    c^T A c / ((c . P) (c . N)) with P, N the positive and negative pixel counts per sample."""

    def __init__(self, gts: list[np.ndarray], maps: list[np.ndarray]) -> None:
        k = len(maps)
        pos_vals = [m[g] for g, m in zip(gts, maps)]
        owner = np.repeat(np.arange(k), [v.size for v in pos_vals])
        all_pos = np.concatenate(pos_vals) if pos_vals else np.zeros(0)
        self.A = np.zeros((k, k))
        self.P = np.array([v.size for v in pos_vals], dtype=float)
        self.N = np.zeros(k)
        for t, (g, m) in enumerate(zip(gts, maps)):
            neg = np.sort(m[~g])
            self.N[t] = neg.size
            if all_pos.size and neg.size:
                below = np.searchsorted(neg, all_pos, side="left")
                ties = np.searchsorted(neg, all_pos, side="right") - below
                self.A[:, t] = np.bincount(owner, weights=below + 0.5 * ties, minlength=k)

    def auroc(self, c: np.ndarray) -> float:
        return float(self.replicates(np.asarray(c, dtype=float)[None, :])[0])

    def replicates(self, counts: np.ndarray) -> np.ndarray:
        """AUROC of each row of a replicates x samples count matrix."""
        denom = (counts @ self.P) * (counts @ self.N)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, np.einsum("ri,ri->r", counts @ self.A, counts) / denom, np.nan)


def weighted_auroc(labels: Sequence[int], scores: Sequence[float], weights: Sequence[float] | None = None) -> float:
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    return _SortedScores(labels, scores)(w)[0]


def weighted_average_precision(
    labels: Sequence[int], scores: Sequence[float], weights: Sequence[float] | None = None
) -> float:
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    return _SortedScores(labels, scores)(w)[1]


# ----------------------------------------------------------------------------------------------------------------
# bootstrap


def _percentile_interval(reps: np.ndarray, confidence: float) -> list[float] | None:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


def bootstrap_intervals(
    labels: Sequence[int],
    scores: Sequence[float],
    categories: Sequence[str],
    gts: Sequence[np.ndarray | None] | None = None,
    maps: Sequence[np.ndarray | None] | None = None,
    *,
    n_boot: int = 1000,
    n_boot_maps: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, list[float]]]:
    """Percentile bootstrap intervals per category (and for ``mean`` when there are several categories).

    ``labels``/``scores``/``categories`` have one entry per test sample. ``gts`` and ``maps`` (optional, same
    length) hold each sample's ground truth and anomaly map of equal shape (per pixel or per point); samples whose
    map or gt is None are left out of the pixel/point metrics. The same resampled sample indices feed the object
    and map metrics of a replicate. ``p_auroc`` uses all ``n_boot`` replicates (exact and cheap, see
    `_PairCounts`); ``p_aupr`` has no such shortcut (about 0.5 s per replicate per 6M pixels on one core here), so
    it uses only the first ``n_boot_maps`` replicates and is skipped when that is 0 (the default). The interval of ``mean`` comes from the mean over categories of each
    replicate (categories resampled independently). Returns ``{category: {metric: [lo, hi]}}``.
    """
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    cats = np.asarray(list(categories), dtype=object)
    if not (len(labels) == len(scores) == len(cats)):
        raise ValueError(f"labels ({len(labels)}), scores ({len(scores)}) and categories ({len(cats)}) differ in length")
    if (gts is None) != (maps is None) or (maps is not None and len(maps) != len(labels)):
        raise ValueError("gts and maps must both be given, with one entry per test sample")
    rng = np.random.default_rng(seed)
    names = sorted(set(cats.tolist()))
    n_map = min(n_boot, n_boot_maps)
    reps: dict[str, dict[str, np.ndarray]] = {}
    for cat in names:
        idx = np.flatnonzero(cats == cat)
        draws = rng.integers(0, len(idx), size=(n_boot, len(idx)))  # replicate x drawn position within category
        counts = np.stack([np.bincount(d, minlength=len(idx)) for d in draws]).astype(float)  # weight per sample
        i_auroc, i_aupr = _SortedScores(labels[idx], scores[idx]).replicates(counts)
        reps[cat] = {"i_auroc": i_auroc, "i_aupr": i_aupr}
        if maps is not None:
            keep = np.array([k for k, i in enumerate(idx) if maps[i] is not None and gts[i] is not None], dtype=int)
            if keep.size:
                cat_gts = [np.asarray(gts[idx[k]]).ravel() > 0 for k in keep]
                cat_maps = [np.asarray(maps[idx[k]], dtype=float).ravel() for k in keep]
                pairs = _PairCounts(cat_gts, cat_maps)
                reps[cat]["p_auroc"] = pairs.replicates(counts[:, keep])
                if n_map:
                    owner = np.repeat(np.arange(keep.size, dtype=np.int32), [m.size for m in cat_maps])
                    pix = _SortedScores(np.concatenate(cat_gts), np.concatenate(cat_maps), owner)
                    reps[cat]["p_aupr"] = np.array([pix.by_owner(c[keep])[1] for c in counts[:n_map]])
    out: dict[str, dict[str, list[float]]] = {}
    for cat, by_metric in reps.items():
        out[cat] = {m: iv for m, r in by_metric.items() if (iv := _percentile_interval(r, confidence)) is not None}
    if len(names) > 1:
        out["mean"] = {}
        for metric in (*OBJECT_METRICS, *MAP_METRICS):
            if all(metric in reps[c] for c in names):
                n = min(len(reps[c][metric]) for c in names)
                stacked = np.stack([reps[c][metric][:n] for c in names])
                iv = _percentile_interval(stacked.mean(axis=0), confidence)  # nan in any category -> dropped
                if iv is not None:
                    out["mean"][metric] = iv
    return out


def record_intervals(record: Any, *, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, list[float]]]:
    """Intervals of a record: the ones stored at job time, completed by object-level ones from its ``samples``."""
    stored = {c: dict(m) for c, m in (getattr(record, "intervals", None) or {}).items()}
    sample_cats = {s.category for s in record.samples}
    if all(set(OBJECT_METRICS) <= set(stored.get(c, {})) for c in sample_cats):
        return stored  # the runner stored them at job time (records it wrote always have them)
    computed = bootstrap_intervals(
        [s.label for s in record.samples],
        [s.score for s in record.samples],
        [s.category for s in record.samples],
        n_boot=n_boot,
        seed=seed,
    )
    for cat, by_metric in computed.items():
        for metric, iv in by_metric.items():
            stored.setdefault(cat, {}).setdefault(metric, iv)
    return stored


# ----------------------------------------------------------------------------------------------------------------
# seeds of one configuration (used by benchkit.aggregate and benchkit.comparison)


def newest_per_seed(records: Iterable[Any]) -> list[Any]:
    """One record per (category, seed): the newest by provenance timestamp (a rerun replaces an older result)."""
    best: dict[tuple[str, int], Any] = {}
    for rec in records:
        key = (rec.job.category, rec.job.seed)
        if key not in best or rec.provenance.timestamp >= best[key].provenance.timestamp:
            best[key] = rec
    return list(best.values())


def seed_copies(records: Iterable[Any]) -> list[int]:
    """The seeds of these ok records (one configuration) when there are at least two and every seed gave exactly
    the same results (every metric of every category, and every per-sample score): a deterministic detector, whose
    extra seeds add no information. Otherwise []."""
    by_seed: dict[int, dict[tuple, float | None]] = {}
    for rec in newest_per_seed(records):
        if rec.status != "ok":
            continue
        out = by_seed.setdefault(rec.job.seed, {})
        for cat, by_metric in rec.metrics.items():
            if cat != "mean":
                out.update({("metric", cat, m): v for m, v in by_metric.items()})
        out.update({("sample", s.category, s.id): s.score for s in rec.samples})
    if len(by_seed) < 2:
        return []
    first, *rest = by_seed.values()
    return sorted(by_seed) if all(other == first for other in rest) else []


def rank_biserial(differences: Sequence[float]) -> float | None:
    """Matched-pairs rank-biserial correlation (Kerby 2014): (R+ - R-) / (R+ + R-) over ranks of |d|, zeros
    dropped (the same zero handling as scipy's default ``zero_method='wilcox'``)."""
    from scipy.stats import rankdata

    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return None
    ranks = rankdata(np.abs(d))
    r_plus, r_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((r_plus - r_minus) / (r_plus + r_minus))
