"""benchkit.comparison: Wilcoxon over categories (means over seeds), identical seeds counted once, paired bootstrap
over test samples, and the `benchkit compare` text."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata, wilcoxon
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import make_record, write_scenario  # noqa: E402

from benchkit.comparison import compare, comparable_runs, paired_bootstrap  # noqa: E402
from benchkit.leaderboard import compare_text  # noqa: E402
from benchkit.results import SampleScore  # noqa: E402

CATS8 = [f"c{i}" for i in range(8)]


def _with_scores(detector, category, seed, labels, scores, **kw):
    """A record whose i_auroc is computed from the given per-sample scores (ids s0, s1, ... shared across records)."""
    rec = make_record(detector, category, seed, {category: {"i_auroc": float(roc_auc_score(labels, scores))}},
                      samples=False, **kw)
    rec.samples = [SampleScore(id=f"s{i}", category=category, label=int(lab), score=float(sc))
                   for i, (lab, sc) in enumerate(zip(labels, scores))]
    return rec


def _deterministic(detector, shift, seeds, rng_seed=0):
    """A detector whose every seed gives the same scores (copies); ``shift`` moves anomalous scores up."""
    rng = np.random.default_rng(rng_seed)
    out = []
    for k, cat in enumerate(CATS8):
        labels = np.r_[np.zeros(15), np.ones(15)]
        scores = rng.normal(size=30) + labels * (shift + 0.1 * k)
        out += [_with_scores(detector, cat, seed, labels, scores) for seed in seeds]
    return out


def test_wilcoxon_runs_over_categories_on_means_over_seeds():
    a_vals = {c: (0.90 - i / 50, 0.92 - i / 50) for i, c in enumerate(CATS8)}  # two seeds that differ
    b_vals = {c: (0.85 - i / 40, 0.86 - i / 45) for i, c in enumerate(CATS8)}
    recs_a = [make_record("a", c, s, {c: {"i_auroc": v}}, samples=False) for c, vs in a_vals.items()
              for s, v in enumerate(vs)]
    recs_b = [make_record("b", c, s, {c: {"i_auroc": v}}, samples=False) for c, vs in b_vals.items()
              for s, v in enumerate(vs)]
    recs_b.append(make_record("b", "c9", 0, {"c9": {"i_auroc": 0.5}}, samples=False))  # unmatched: ignored
    res = compare(recs_a, recs_b)
    d = np.array([np.mean(a_vals[c]) - np.mean(b_vals[c]) for c in CATS8])
    ref = wilcoxon(d)
    assert res.n_pairs == 8 and res.seeds == [0, 1]  # one unit per category, not 16 (category, seed) pairs
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)
    ranks = rankdata(np.abs(d))
    assert res.rank_biserial == pytest.approx((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())
    assert res.mean_difference == pytest.approx(d.mean())
    assert res.bootstrap is None and res.copies == {"a": [], "b": []}  # no per-sample scores: no bootstrap


def test_deterministic_detectors_give_the_same_p_value_over_three_seeds_as_over_one():
    one = compare(_deterministic("a", 1.0, [0]), _deterministic("b", 0.6, [0], rng_seed=1), n_boot=300)
    three = compare(_deterministic("a", 1.0, [0, 1, 2]), _deterministic("b", 0.6, [0, 1, 2], rng_seed=1), n_boot=300)
    assert three.p_value == one.p_value and three.statistic == one.statistic and three.n_pairs == one.n_pairs == 8
    assert three.bootstrap.p_value == one.bootstrap.p_value
    assert three.bootstrap.interval == pytest.approx(one.bootstrap.interval)
    assert three.copies == {"a": [0, 1, 2], "b": [0, 1, 2]} and one.copies == {"a": [], "b": []}
    assert "identical copies" in three.message and "identical copies" not in one.message


def test_single_category_uses_the_paired_bootstrap():
    rng = np.random.default_rng(3)
    labels = np.r_[np.zeros(60), np.ones(60)]
    base = rng.normal(size=120)
    strong = base + 1.5 * labels
    weak = base + 0.2 * labels + rng.normal(scale=0.8, size=120)
    res = compare([_with_scores("a", "x", 0, labels, strong)], [_with_scores("b", "x", 0, labels, weak)], n_boot=500)
    assert res.p_value is None and "no Wilcoxon" in res.message
    bs = res.bootstrap
    assert bs.n_samples == 120 and bs.categories == ["x"]
    assert bs.difference == pytest.approx(roc_auc_score(labels, strong) - roc_auc_score(labels, weak))
    assert bs.interval[0] > 0 and bs.p_value < 0.01
    # no difference at all: a large p-value, an interval around zero
    same = compare([_with_scores("a", "x", 0, labels, weak)], [_with_scores("b", "x", 0, labels, weak + 1e-9)],
                   n_boot=500)
    assert same.bootstrap.p_value > 0.5 and same.bootstrap.interval[0] <= 0 <= same.bootstrap.interval[1]


def test_bootstrap_pairs_by_sample_id_and_is_seeded():
    labels = np.r_[np.zeros(20), np.ones(20)]
    rng = np.random.default_rng(0)
    sa, sb = rng.normal(size=40) + labels, rng.normal(size=40) + 0.5 * labels
    a = {"x": [_with_scores("a", "x", 0, labels, sa)]}
    b = {"x": [_with_scores("b", "x", 0, labels, sb)]}
    b["x"][0].samples = b["x"][0].samples[::-1]  # order does not matter, ids do
    first = paired_bootstrap(a, b, n_boot=200, seed=5)
    assert first == paired_bootstrap(a, b, n_boot=200, seed=5) and first != paired_bootstrap(a, b, n_boot=200, seed=6)
    b["x"][0].samples = [s.model_copy(update={"id": "other" + s.id}) for s in b["x"][0].samples]
    assert paired_bootstrap(a, b, n_boot=50) is None  # no shared test samples: nothing to pair


def test_few_categories_and_nothing_shared():
    recs_a = [make_record("a", f"c{i}", 0, {f"c{i}": {"i_auroc": 0.8 + i / 100}}, samples=False) for i in range(4)]
    recs_b = [make_record("b", f"c{i}", 0, {f"c{i}": {"i_auroc": 0.7}}, samples=False) for i in range(4)]
    res = compare(recs_a, recs_b)
    assert res.n_pairs == 4 and "only 4 categories" in res.message and "cannot reach p < 0.05" in res.message
    assert res.rank_biserial == 1.0
    none = compare(recs_a, [make_record("b", "other", 0, {"other": {"i_auroc": 0.7}}, samples=False)])
    assert none.n_pairs == 0 and none.p_value is None and "no category" in none.message


def test_comparable_runs_take_the_newest_version_and_prefer_pretrained():
    recs = [make_record("d", "a", 0, version="0.1"), make_record("d", "a", 0, version="0.2"),
            make_record("d", "b", 0, version="0.2", weights="random-init"), make_record("e", "a", 0)]
    runs = comparable_runs(recs, "d")
    assert [(r.job.detector_version, r.weights) for r in runs] == [("0.2", "none")]
    assert comparable_runs(recs, "nobody") == []


def test_compare_text(tmp_path):
    res = write_scenario(tmp_path / "res")
    text = compare_text(res, "good", "<script>alert(1)</script>", dataset="toy", setting="one-model-one-class")
    assert "only 3 categories" in text and "+25.0" in text  # only seed 0 is shared: 0.90 vs 0.65 on category a
    assert "paired bootstrap over 60 test samples" in text
    assert "no records of nobody" in compare_text(res, "good", "nobody", dataset="toy", setting="one-model-one-class")
