"""Settings enforce their protocol: what a detector trains on and what it sees."""

from __future__ import annotations

import json

import pytest

from benchkit.errors import UsageError
from benchkit.plugins import get_registry


def plans(setting: str, seed: int = 0):
    import fixture_plugins

    registry = get_registry()
    base, _, arg = setting.partition(":")
    dataset = fixture_plugins.TinyPoints("unused")
    return registry.settings[base].factory(arg or None).plan(dataset, seed=seed, datasets={"tiny-points": dataset})


def ids(refs):
    return [(r.category, r.split, r.id) for r in refs]


def test_few_shot_is_deterministic_per_seed_and_never_touches_test(bk_env):
    first, again, other = plans("few-shot:2", 0), plans("few-shot:2", 0), plans("few-shot:2", 1)
    assert [ids(p.train) for p in first] == [ids(p.train) for p in again]
    assert [ids(p.train) for p in first] != [ids(p.train) for p in other]
    for plan in first + other:
        assert len(plan.train) == 2 and plan.config == {"k": 2}
        assert all(r.split == "train" and r.category == plan.category for r in plan.train)


def test_few_shot_needs_a_positive_count(bk_env):
    with pytest.raises(UsageError, match="few-shot:5"):
        plans("few-shot:zero")


def test_zero_shot_one_vs_rest_trains_on_one_category_and_tests_on_the_others(bk_env):
    made = plans("zero-shot-one-vs-rest")
    assert [p.category for p in made] == ["ball", "egg", "pill"]  # no published categories: every one in turn
    for plan in made:
        assert plan.train and all(r.category == plan.category and r.split == "train" for r in plan.train)
        assert {r.category for r in plan.test} == {"ball", "egg", "pill"} - {plan.category}
        assert plan.config["train_categories"] == [plan.category]


def test_zero_shot_one_vs_rest_takes_the_training_categories_from_its_argument(bk_env):
    assert [p.category for p in plans("zero-shot-one-vs-rest:pill,ball")] == ["pill", "ball"]
    with pytest.raises(UsageError, match="no category cake"):
        plans("zero-shot-one-vs-rest:cake")


def test_zero_shot_leave_one_out_never_trains_on_the_target(bk_env):
    for plan in plans("zero-shot-leave-one-out"):
        assert plan.train and all(r.category != plan.category for r in plan.train)
        assert all(r.category == plan.category for r in plan.test)


def test_unified_agnostic_hides_categories_and_answers(bk_env, cli, monkeypatch, tmp_path):
    spy_file = tmp_path / "spy.jsonl"
    monkeypatch.setenv("BENCHKIT_SPY_FILE", str(spy_file))
    assert cli("run", "--detector", "spy", "--dataset", "tiny-points", "--setting", "unified-agnostic",
               "--setting", "unified", "--results", str(tmp_path / "r"), "--no-site", "--quiet", "--workers", "1") == 0
    seen = [json.loads(line) for line in spy_file.read_text().splitlines()]
    fits = [s for s in seen if s["phase"] == "fit"]
    predicts = [s for s in seen if s["phase"] == "predict"]
    assert len(fits) == 2 * 12 and len(predicts) == 2 * (18 + 1)  # two settings; one warm-up sample each
    agnostic = fits[:12] + predicts[:19]
    assert all(s["category"] is None for s in agnostic)
    assert any(s["category"] is not None for s in fits[12:])  # class-aware unified does show categories
    assert all(s["label"] is None and not s["gt"] for s in predicts)  # no answers at test time, ever


def test_detector_needing_categories_is_skipped_in_agnostic_setting(bk_env):
    from benchkit import DetectorSpec
    import fixture_plugins

    spec = DetectorSpec("aware", "1", "", fixture_plugins.NNDistance, frozenset({"points"}), needs_category=True)
    setting = get_registry().settings["unified-agnostic"].factory(None)
    reason = setting.incompatibility(spec, get_registry().datasets["tiny-points"])
    assert "needs category labels" in reason


def test_zero_shot_cross_dataset_trains_only_on_the_source(bk_env, cli, monkeypatch, tmp_path):
    spy_file = tmp_path / "spy.jsonl"
    monkeypatch.setenv("BENCHKIT_SPY_FILE", str(spy_file))
    results = tmp_path / "r"
    assert cli("run", "--detector", "spy", "--dataset", "tiny-points-b", "--setting",
               "zero-shot-cross-dataset:tiny-points", "--category", "egg", "--results", str(results),
               "--no-site", "--quiet", "--executor", "inline") == 0
    from benchkit.results import iter_records

    (_, rec), = list(iter_records(results))
    assert rec.status == "ok" and rec.job.dataset == "tiny-points-b" and rec.job.config["setting"]["source"] == "tiny-points"
    assert rec.job.config["setting"]["train_categories"] == ["egg"]  # --category picks the source training category
    assert set(rec.counts) == {"ball", "egg", "pill"} and rec.counts["ball"].train == 4  # tested on every category
    fits = [json.loads(line) for line in spy_file.read_text().splitlines() if '"fit"' in line]
    assert len(fits) == 4 and all(f["category"] == "egg" for f in fits)


def test_all_pairs_cross_dataset_settings_over_found_datasets(bk_env):
    spec = get_registry().settings["zero-shot-cross-dataset"]
    assert spec.run_names(["a", "b"]) == ["zero-shot-cross-dataset:a", "zero-shot-cross-dataset:b"]
    assert get_registry().settings["few-shot"].run_names(["a"]) == ["few-shot:5"]


def test_cross_dataset_never_pairs_a_dataset_with_itself(bk_env, cli, tmp_path):
    results = tmp_path / "r"
    assert cli("run", "--detector", "nn-distance", "--detector", "needs-rgb", "--dataset", "tiny-points",
               "--setting", "zero-shot-cross-dataset:tiny-points", "--results", str(results), "--no-site",
               "--quiet") == 0
    assert not list(results.rglob("*.json"))  # neither jobs nor skip records for a self pair


def test_unorganized_only_detectors_are_not_run_on_organized_scans(bk_env):
    from benchkit import DatasetSpec, DetectorSpec
    import fixture_plugins

    det = DetectorSpec("clouds-only", "1", "", fixture_plugins.NNDistance, frozenset({"points"}),
                       accepts_organized=False)
    scans = DatasetSpec("scans", "1", "", fixture_plugins.TinyPoints, frozenset({"points", "xyz", "rgb"}))
    setting = get_registry().settings["one-model-one-class"].factory(None)
    assert "unorganized point clouds only" in setting.incompatibility(det, scans)
    assert setting.incompatibility(det, get_registry().datasets["tiny-points"]) is None


def test_few_shot_records_repeat_for_a_seed_and_change_with_it(bk_env, cli, tmp_path):
    from benchkit.results import load_record

    def run(seed, out):
        assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--setting", "few-shot:2",
                   "--category", "egg", "--seed", str(seed), "--results", str(out), "--no-site", "--quiet") == 0
        (path,) = out.rglob("*.json")
        return load_record(path)

    a, b, c = run(0, tmp_path / "a"), run(0, tmp_path / "b"), run(1, tmp_path / "c")
    assert a.job == b.job and a.metrics == b.metrics and a.samples == b.samples
    assert a.job.config["train_ids"] != c.job.config["train_ids"]


def test_cross_dataset_pairs_of_two_geometry_formats_run_only_detectors_that_declare_them(bk_env):
    from benchkit import DatasetSpec, DetectorSpec
    import fixture_plugins

    scans = DatasetSpec("scans", "1", "", fixture_plugins.TinyPoints, frozenset({"points", "xyz", "rgb"}))
    setting = get_registry().settings["zero-shot-cross-dataset"].build("zero-shot-cross-dataset:tiny-points")
    assert setting.applies_to(fixture_plugins.TinyPoints("unused"), {})  # a cloud source for a scan target
    anything = DetectorSpec("any", "1", "", fixture_plugins.NNDistance, frozenset({"points"}))
    assert "handle both formats" in setting.incompatibility(anything, scans)
    zero_shot = DetectorSpec("zs", "1", "", fixture_plugins.NNDistance, frozenset({"points"}),
                             settings=frozenset({"zero-shot-cross-dataset"}))
    assert setting.incompatibility(zero_shot, scans) is None
    colour = DetectorSpec("zs-rgb", "1", "", fixture_plugins.NNDistance, frozenset({"points", "rgb"}),
                          settings=frozenset({"zero-shot-cross-dataset"}))
    assert "the source tiny-points does not provide" in setting.incompatibility(colour, scans)
    assert setting.incompatibility(anything, get_registry().datasets["tiny-points-b"]) is None  # one format


def test_few_shot_is_not_planned_where_no_category_has_more_training_samples_than_k(bk_env):
    """K-shot with at least as many shots as training samples is the full-data setting: not run twice."""
    from benchkit.plugins import get_registry

    registry = get_registry()
    spec = registry.get("datasets", "tiny-points")
    dataset = spec.open(spec.root())
    dataset.prepare()
    most = max(len(dataset.index(c, "train")) for c in dataset.categories())
    few = registry.get("settings", "few-shot")
    assert few.build(f"few-shot:{most - 1}").applies_to(dataset, {})
    assert not few.build(f"few-shot:{most}").applies_to(dataset, {})
