"""benchkit.aggregate: the mean rule, seeds, ranks, failed/skipped visibility, efficiency medians."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import CATS, make_record, scenario, write_scenario  # noqa: E402

from benchkit.aggregate import summarize, summarize_dir, wide  # noqa: E402

EXPECTED = {"toy": CATS}


def _row(s, detector, weights="none", setting="one-model-one-class"):
    r = s.rows[(s.rows.detector == detector) & (s.rows.weights == weights) & (s.rows.setting == setting)]
    assert len(r) == 1
    return r.iloc[0]


def _val(s, detector, category, metric="i_auroc", weights="none", setting="one-model-one-class"):
    v = s.values
    hit = v[(v.detector == detector) & (v.weights == weights) & (v.setting == setting) & (v.category == category)
            & (v.metric == metric)]
    return None if hit.empty else hit.iloc[0]


def test_mean_over_seeds_and_categories():
    s = summarize(scenario(), EXPECTED)
    a = _val(s, "good", "a")
    assert a["mean"] == pytest.approx(0.91) and a["std"] == pytest.approx(0.0141421, rel=1e-4) and a["n_seeds"] == 2
    m = _val(s, "good", "mean")
    assert m["mean"] == pytest.approx(0.81)
    assert m["std"] == pytest.approx(0.0141421, rel=1e-4)  # std over seeds of the per-seed means
    assert not _row(s, "good").incomplete


def test_unified_record_ignores_its_own_mean_entry():
    s = summarize(scenario(), EXPECTED)
    assert _val(s, "uni", "mean", setting="unified")["mean"] == pytest.approx(0.7)


def test_rows_missing_a_category_or_from_incomplete_copies_get_no_mean_and_no_rank():
    s = summarize(scenario(), EXPECTED)
    partial = _row(s, "partial")
    assert partial.incomplete and partial.missing == "c" and partial.n_failed == 1
    assert _val(s, "partial", "mean") is None and _val(s, "partial", "a")["mean"] == pytest.approx(0.99)
    copy = _row(s, "copy")
    assert copy.incomplete and copy.copy_incomplete and _val(s, "copy", "mean") is None


def test_a_missing_seed_of_one_category_makes_the_row_incomplete():
    recs = [make_record("d", c, 0, {c: {"i_auroc": 0.7}}) for c in CATS]
    recs += [make_record("d", c, 1, {c: {"i_auroc": 0.7}}) for c in CATS[:2]]
    s = summarize(recs, EXPECTED)
    assert _row(s, "d").incomplete and _val(s, "d", "mean") is None


def test_expected_categories_fall_back_to_every_category_seen():
    recs = [make_record("x", c, 0, {c: {"i_auroc": 0.7}}) for c in CATS] + [make_record("y", "a", 0)]
    s = summarize(recs)  # dataset 'toy' has no plugin: categories = union over records
    assert s.categories["toy"] == CATS
    assert not _row(s, "x").incomplete and _row(s, "y").incomplete


def test_ranks_only_complete_rows_random_init_kept_separate_and_unranked():
    s = summarize(scenario(), EXPECTED)
    means = s.values[(s.values.category == "mean") & (s.values.metric == "i_auroc")
                     & (s.values.setting == "one-model-one-class")]
    ranks = {(r.detector, r.weights): r.rank for r in means.itertuples()}
    assert ranks.pop(("good", "random-init")) != ranks.pop(("good", "random-init"), None)  # NaN: never ranked
    assert ranks == {("good", "none"): 1, ("<script>alert(1)</script>", "none"): 2}
    assert _val(s, "good", "a", weights="random-init")["mean"] == pytest.approx(0.5)


def test_versions_give_separate_rows_older_ones_stale_and_unranked():
    recs = [make_record("d", c, 0, {c: {"i_auroc": 0.6}}, version="0.1") for c in CATS]
    recs += [make_record("d", c, 0, {c: {"i_auroc": 0.7}}, version="0.2", timestamp="2025-01-01T00:00:00")
             for c in CATS]  # older timestamps do not make a newer version stale
    recs += [make_record("d", c, 0, {c: {"i_auroc": 0.9}}, version="0.10") for c in CATS[:1]]  # 0.10 > 0.2
    s = summarize(recs, EXPECTED)
    rows = {r.detector_version: r for r in s.rows.itertuples()}
    assert set(rows) == {"0.1", "0.2", "0.10"}
    assert rows["0.1"].stale and rows["0.2"].stale and not rows["0.10"].stale
    means = s.values[s.values.category == "mean"]
    assert {r.detector_version: r.mean for r in means.itertuples()} == pytest.approx({"0.1": 0.6, "0.2": 0.7})
    assert means["rank"].isna().all()  # the current version (0.10) is incomplete; stale rows are never ranked


def test_random_init_never_overwrites_or_outranks_pretrained():
    pre = [make_record("m", c, 0, {c: {"i_auroc": 0.7}}, weights="pretrained", backbones=[("point-mae", "pretrained")])
           for c in CATS]
    rnd = [make_record("m", c, 0, {c: {"i_auroc": 0.95}}, weights="random-init", timestamp="2026-03-01T00:00:00",
                       backbones=[("point-mae", "random-init")]) for c in CATS]
    s = summarize(pre + rnd, EXPECTED)
    rows = {r.weights: r for r in s.rows.itertuples()}
    assert set(rows) == {"pretrained", "random-init"} and rows["pretrained"].backbone == "point-mae"
    assert rows["pretrained"].weights_files == 1 and rows["random-init"].weights_files == 0
    means = {r.weights: r for r in s.values[s.values.category == "mean"].itertuples()}
    assert means["pretrained"].mean == pytest.approx(0.7) and means["pretrained"].rank == 1
    assert means["random-init"].mean == pytest.approx(0.95) and means["random-init"].rank != means["random-init"].rank


def test_identical_seeds_report_no_spread():
    recs = [make_record("det", c, seed, {c: {"i_auroc": 0.7}}) for c in CATS for seed in (0, 1, 2)]
    s = summarize(recs, EXPECTED)
    row = _row(s, "det")
    assert row.seed_copies and row.n_seeds == 3
    assert _val(s, "det", "a")["std"] is None and _val(s, "det", "mean")["std"] is None
    assert _val(s, "det", "a")["ci_lo"] is not None  # one seed's interval holds for its copies
    recs[0] = make_record("det", "a", 0, {"a": {"i_auroc": 0.8}})
    s = summarize(recs, EXPECTED)
    assert not _row(s, "det").seed_copies and _val(s, "det", "a")["std"] > 0


def test_legacy_metrics_sort_after_their_exact_metric():
    from benchkit.aggregate import metric_sort_key
    names = ["zzz", "aupro@0.01/legacy100", "aupro@0.3/legacy99", "aupro@0.3", "i_auroc", "aupro@0.3/legacy100",
             "aupro@0.3/legacy1"]
    assert sorted(names, key=metric_sort_key) == ["i_auroc", "aupro@0.3", "aupro@0.3/legacy100", "aupro@0.3/legacy99",
                                                  "aupro@0.01/legacy100", "aupro@0.3/legacy1", "zzz"]


def test_failed_and_skipped_jobs_stay_visible():
    s = summarize(scenario(), EXPECTED)
    bad = s.jobs[s.jobs.status != "ok"]
    assert set(zip(bad.detector, bad.status)) == {("partial", "failed"), ("weightless", "skipped")}
    assert "CUDA out of memory" in bad[bad.status == "failed"].reason.iloc[0]
    # a detector that never ran gets no ranked row; its skips stay listed with their reasons
    assert "weightless" not in set(s.rows.detector)
    assert (bad.detector == "weightless").sum() == 3


def test_efficiency_medians_and_newest_record_wins():
    recs = [make_record("e", c, 0, {c: {"i_auroc": 0.7}}, throughput=t) for c, t in zip(CATS, (1.0, 3.0, 10.0))]
    recs.append(make_record("e", "a", 0, {"a": {"i_auroc": 0.9}}, throughput=1.0, timestamp="2026-02-01T00:00:00"))
    s = summarize(recs, EXPECTED)
    assert _row(s, "e").throughput_per_s == pytest.approx(3.0)
    assert _row(s, "e").parameters == 1_500_000
    assert _val(s, "e", "a")["mean"] == pytest.approx(0.9) and _row(s, "e").n_jobs == 3


def test_single_seed_values_carry_bootstrap_intervals_and_wide_table(tmp_path):
    s = summarize_dir(write_scenario(tmp_path), EXPECTED)
    v = _val(s, "partial", "a")
    assert v["ci_lo"] is not None  # interval computed from the record's samples
    assert v["ci_lo"] < v["ci_hi"]
    table = wide(s, "toy", "one-model-one-class", "i_auroc")
    assert list(table.columns) == ["mean", *CATS]
    assert table.loc[("good", "1", "", "none"), "b"] == pytest.approx(0.81)


def test_zero_shot_one_vs_rest_averages_its_training_categories():
    """Jobs trained on one category and tested on the others (PointAD's protocol): a category tested by two jobs
    gets their mean, and the section's mean is the mean of the jobs' means."""
    from benchkit.aggregate import summarize

    from records_factory import make_record

    setting = "zero-shot-one-vs-rest"
    recs = [make_record("zs", "a", 0, {"b": {"i_auroc": 0.6}, "c": {"i_auroc": 0.8}, "mean": {"i_auroc": 0.7}},
                        setting=setting),
            make_record("zs", "b", 0, {"a": {"i_auroc": 0.9}, "c": {"i_auroc": 0.4}, "mean": {"i_auroc": 0.65}},
                        setting=setting)]
    v = summarize(recs, {"toy": ["a", "b", "c"]}, intervals=False).values
    got = {r.category: r.mean for r in v[v.metric == "i_auroc"].itertuples()}
    assert got == pytest.approx({"a": 0.9, "b": 0.6, "c": 0.6, "mean": 0.675})
