"""Paired comparison of two detectors (``benchkit compare``), over units that are independent.

Why per-category means: a Wilcoxon test assumes independent pairs. Categories are independent test sets; the
seeds of one category are not (same test samples, and a deterministic detector repeats itself exactly). So every
category contributes ONE pair: each detector's mean over the seeds both have run there, and the signed-rank test
runs over categories. Adding seeds can then sharpen each pair but never multiplies the pairs: two deterministic
detectors give the same p-value over seeds 0, 1, 2 as over seed 0 alone. Seeds that are identical copies are
named in the result.

Why a paired bootstrap as well: with one category (or a dataset's mean) there is nothing to rank over categories,
but the test samples still vary. `paired_bootstrap` resamples whole test samples, the same draw for both
detectors (paired by sample id), stratified by category and label so that every replicate keeps the category's
normal/anomalous counts; a replicate's difference is the mean over categories of (metric of a minus metric of b),
each averaged over the seeds. It needs the per-sample object scores of the records, so it covers the object-level
metrics (``i_auroc``, ``i_aupr``) only. Two-sided p-value: twice the share of replicates on the far side of zero
(with the usual +1 correction), capped at 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchkit.stats import MIN_PAIRS, OBJECT_METRICS, _SortedScores, newest_per_seed, rank_biserial, seed_copies


@dataclass
class PairedBootstrap:
    difference: float  # observed mean over categories of (a - b), each averaged over seeds
    interval: list[float]  # percentile interval of the difference
    p_value: float
    n_boot: int
    n_samples: int  # test samples matched by id in both detectors' records
    categories: list[str]


@dataclass
class Comparison:
    metric: str
    pairs: list[tuple[str, float, float]]  # (category, a's mean over seeds, b's mean over seeds): the test's units
    seeds: list[int]  # seeds both detectors ran on (averaged within each category)
    statistic: float | None  # Wilcoxon W over categories (the smaller rank sum, scipy's convention)
    p_value: float | None
    rank_biserial: float | None  # matched-pairs rank-biserial correlation, in [-1, 1]; > 0: a better than b
    mean_difference: float | None  # mean over categories of (a - b)
    bootstrap: PairedBootstrap | None = None
    copies: dict[str, list[int]] = field(default_factory=dict)  # "a"/"b" -> seeds that are identical copies
    notes: list[str] = field(default_factory=list)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    @property
    def message(self) -> str:
        return "; ".join(self.notes)


def comparable_runs(records: Iterable[Any], detector: str) -> list[Any]:
    """The records of ``detector`` that form one configuration: its newest detector version, and pretrained (or
    weight-free) runs; random-init runs only when there is nothing else (they are a different configuration)."""
    from benchkit.aggregate import version_key

    mine = [r for r in records if r.job.detector == detector]
    if not mine:
        return []
    newest = max((r.job.detector_version for r in mine), key=version_key)
    mine = [r for r in mine if r.job.detector_version == newest]
    return [r for r in mine if r.weights != "random-init"] or mine


def _by_category_seed(records: Iterable[Any], metric: str) -> dict[str, dict[int, tuple[float, Any]]]:
    """category -> seed -> (value, record) over ok records (newest per category and seed)."""
    out: dict[str, dict[int, tuple[float, Any]]] = {}
    for rec in newest_per_seed(records):
        if rec.status != "ok":
            continue
        for cat, by_metric in rec.metrics.items():
            value = by_metric.get(metric) if cat != "mean" else None
            if value is not None and np.isfinite(value):
                out.setdefault(cat, {})[rec.job.seed] = (float(value), rec)
    return out


def compare(records_a: Iterable[Any], records_b: Iterable[Any], metric: str = "i_auroc", *, n_boot: int = 2000,
            seed: int = 0) -> Comparison:
    """Wilcoxon signed-rank test of a against b over categories (each a mean over the shared seeds), plus a paired
    bootstrap over test samples when both sides' records carry per-sample scores of an object-level metric."""
    from scipy.stats import wilcoxon

    records_a, records_b = list(records_a), list(records_b)
    a, b = _by_category_seed(records_a, metric), _by_category_seed(records_b, metric)
    shared = {c: sorted(set(a[c]) & set(b[c])) for c in sorted(set(a) & set(b))}
    shared = {c: s for c, s in shared.items() if s}
    copies = {side: seed_copies(recs) for side, recs in (("a", records_a), ("b", records_b))}
    notes = [f"seeds {', '.join(map(str, s))} of {side} are identical copies (a deterministic detector): they count "
             f"once" for side, s in copies.items() if s]
    if not shared:
        return Comparison(metric, [], [], None, None, None, None, None, copies,
                          notes + [f"no category where both have metric {metric!r} for a common seed"])
    pairs = [(c, float(np.mean([a[c][s][0] for s in seeds])), float(np.mean([b[c][s][0] for s in seeds])))
             for c, seeds in shared.items()]
    all_seeds = sorted({s for seeds in shared.values() for s in seeds})
    diffs = np.array([va - vb for _, va, vb in pairs])
    res = Comparison(metric, pairs, all_seeds, None, None, rank_biserial(diffs), float(diffs.mean()), None, copies,
                     notes)
    if metric in OBJECT_METRICS:
        res.bootstrap = paired_bootstrap({c: [a[c][s][1] for s in ss] for c, ss in shared.items()},
                                         {c: [b[c][s][1] for s in ss] for c, ss in shared.items()},
                                         metric, n_boot=n_boot, seed=seed)
    n = len(pairs)
    unit = f"{n} categor{'y' if n == 1 else 'ies'}, each the mean over seed{'s' if len(all_seeds) > 1 else ''} " \
           f"{', '.join(map(str, all_seeds))}"
    if n == 1:
        res.notes.append(f"{unit}: no Wilcoxon test over one category; see the paired bootstrap over test samples"
                         if res.bootstrap else f"{unit}: no test possible (one category and no per-sample scores "
                                                 f"for {metric})")
        return res
    if np.all(diffs == 0):
        res.notes.append(f"{unit}: all identical, no difference to test")
        return res
    w = wilcoxon(diffs)  # two-sided; exact distribution for small samples without ties, normal otherwise
    res.statistic, res.p_value = float(w.statistic), float(w.pvalue)
    if n < MIN_PAIRS:
        res.notes.append(f"only {unit}: a two-sided Wilcoxon test over fewer than {MIN_PAIRS} categories cannot "
                         f"reach p < 0.05; the paired bootstrap over test samples is the more informative test here")
    else:
        res.notes.append(unit)
    return res


def _matched_samples(recs_a: Sequence[Any], recs_b: Sequence[Any], category: str):
    """(labels, [scores per seed of a], [scores per seed of b]) over the test samples every record has, by id."""
    def table(rec):
        return {s.id: s for s in rec.samples if s.category == category}
    tables = [table(r) for r in (*recs_a, *recs_b)]
    ids = sorted(set.intersection(*(set(t) for t in tables))) if tables else []
    if not ids:
        return None
    labels = np.array([tables[0][i].label for i in ids], dtype=int)
    if any(np.any(np.array([t[i].label for i in ids]) != labels) for t in tables[1:]):
        return None  # the same id with different labels: not the same test set
    scores = [np.array([t[i].score for i in ids], dtype=float) for t in tables]
    return labels, scores[:len(recs_a)], scores[len(recs_a):]


def paired_bootstrap(recs_a: dict[str, list[Any]], recs_b: dict[str, list[Any]], metric: str = "i_auroc", *,
                     n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> PairedBootstrap | None:
    """Bootstrap the difference a - b of an object-level metric. ``recs_a[category]`` are a's records of that
    category, one per seed (same for b, same seeds). None when the records share no labelled test samples."""
    which = OBJECT_METRICS.index(metric)  # _SortedScores gives (AUROC, AP)
    rng = np.random.default_rng(seed)
    per_cat, n_samples = [], 0
    for cat in sorted(recs_a):
        matched = _matched_samples(recs_a[cat], recs_b[cat], cat)
        if matched is None or len(set(matched[0].tolist())) < 2:
            continue
        labels, sa, sb = matched
        n_samples += len(labels)
        sorted_a = [_SortedScores(labels, s) for s in sa]
        sorted_b = [_SortedScores(labels, s) for s in sb]
        strata = [np.flatnonzero(labels == v) for v in (0, 1)]
        per_cat.append((cat, labels, sorted_a, sorted_b, strata))
    if not per_cat:
        return None

    def diff(weights_by_cat: list[np.ndarray]) -> float:
        out = []
        for (_, _, sorted_a, sorted_b, _), w in zip(per_cat, weights_by_cat):
            va = np.mean([s(w)[which] for s in sorted_a])
            vb = np.mean([s(w)[which] for s in sorted_b])
            out.append(va - vb)
        return float(np.mean(out))

    observed = diff([np.ones(len(labels)) for _, labels, _, _, _ in per_cat])
    reps = np.empty(n_boot)
    for k in range(n_boot):
        weights = []
        for _, labels, _, _, strata in per_cat:
            w = np.zeros(len(labels))
            for idx in strata:
                np.add.at(w, idx[rng.integers(0, len(idx), size=len(idx))], 1.0)
            weights.append(w)
        reps[k] = diff(weights)
    reps = reps[np.isfinite(reps)]
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    far = min(np.sum(reps <= 0.0), np.sum(reps >= 0.0))
    p = min(1.0, 2.0 * (far + 1) / (reps.size + 1))
    return PairedBootstrap(observed, [float(lo), float(hi)], float(p), int(reps.size), n_samples,
                           [c for c, *_ in per_cat])


def format_comparison(res: Comparison, a: str, b: str, where: str) -> str:
    """The text ``benchkit compare`` prints. Values in percent."""
    lines = [f"{a} vs {b} on {where}, metric {res.metric}: {res.message}"]
    if res.pairs:
        rows = [[c, f"{100 * va:.1f}", f"{100 * vb:.1f}", f"{100 * (va - vb):+.1f}"] for c, va, vb in res.pairs]
        lines.append(_table(["category", a, b, "a - b"], rows))
        lines.append(f"mean difference over categories (a - b): {100 * res.mean_difference:+.2f} points")
    if res.p_value is not None:
        lines.append(f"Wilcoxon signed-rank over {res.n_pairs} categories: W = {res.statistic:g}, two-sided "
                     f"p = {res.p_value:.4g}; matched-pairs rank-biserial r = {res.rank_biserial:+.3f} "
                     f"(positive: {a} better)")
    if res.bootstrap is not None:
        bs = res.bootstrap
        lines.append(f"paired bootstrap over {bs.n_samples} test samples ({bs.n_boot} replicates, stratified by "
                     f"category and label): a - b = {100 * bs.difference:+.2f} points, 95% interval "
                     f"[{100 * bs.interval[0]:+.2f}, {100 * bs.interval[1]:+.2f}], two-sided p = {bs.p_value:.3g}")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
