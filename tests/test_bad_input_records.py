"""Strict record checks (issue 11): what passes the schema but is wrong is named, any JSON shape or depth is a named
problem, and one bad file never stops the check of the others or a leaderboard build."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import make_record  # noqa: E402

from benchkit.results import config_hash, write_record  # noqa: E402
from benchkit.validation import check_file, check_record, read_json, scan_results  # noqa: E402


def good() -> dict:
    return make_record("det", "a", 0, {"a": {"i_auroc": 0.8, "p_auroc": 0.9}}).model_dump(mode="json")


def messages(data) -> list[str]:
    return [str(p) for p in check_record(data)]


def test_a_consistent_record_passes():
    assert check_record(good()) == []
    failed = make_record("det", "a", 0, status="failed", error="CUDA out of memory").model_dump(mode="json")
    assert check_record(failed) == []


@pytest.mark.parametrize("value, expected", [(7.5, "7.5 is outside [0, 1]"), (-3, "-3.0 is outside [0, 1]")])
def test_metric_out_of_range(value, expected):
    data = good()
    data["metrics"]["a"]["p_auroc"] = value
    assert messages(data) == [f"metrics.a.p_auroc: {expected}"]


def test_non_finite_values_given_as_python_floats():
    data = good()
    data["metrics"]["a"]["p_auroc"] = float("nan")
    data["efficiency"]["fit_seconds"] = float("inf")
    assert messages(data) == ["efficiency.fit_seconds: inf is not a finite number",
                              "metrics.a.p_auroc: nan is not a finite number"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_file_are_refused(tmp_path, constant):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(good()).replace('"p_auroc": 0.9', f'"p_auroc": {constant}'))
    check = check_file(path)
    assert not check.ok and f"{constant} is not a JSON number" in str(check.problems[0])


def test_unknown_metric_name():
    data = good()
    data["metrics"]["a"]["accuracy"] = 0.5
    assert messages(data) == ["metrics.a.accuracy: not a benchkit metric (see benchkit.metrics)"]


def test_status_ok_with_an_error_or_without_metrics():
    data = good()
    data["error"] = {"type": "RuntimeError", "message": "boom", "traceback": None}
    assert messages(data) == ["error: status is ok but an error is recorded (RuntimeError)"]
    data = good()
    data["metrics"], data["samples"], data["counts"] = {}, [], {}
    assert messages(data) == ["metrics: status is ok but there are no metrics",
                              "counts: status is ok but no sample counts are recorded"]


def test_failed_or_skipped_with_metrics_or_without_a_reason():
    data = make_record("det", "a", 0, status="failed").model_dump(mode="json")
    data["metrics"] = {"a": {"i_auroc": 0.5}}
    data["error"]["message"] = " "
    assert messages(data) == ["error: status is failed but no reason is recorded",
                              "metrics: status is failed but metrics are recorded"]


def test_ok_with_null_metrics_from_a_one_class_test_split():
    data = good()
    data["metrics"]["a"] = {"i_auroc": None, "p_auroc": None}
    data["samples"] = [s for s in data["samples"] if s["label"] == 0]
    data["counts"]["a"]["test_anomalous"] = 0
    assert messages(data) == ["metrics.a: every metric is null: the test split needs both normal and anomalous samples",
                              "counts.a: 10 normal and 0 anomalous test samples: the metrics need both"]


def test_tampered_config_hash_and_identity():
    data = good()
    data["job"]["config"]["detector"]["params"] = {"k": 3}  # edited after the run; hash left as it was
    assert messages(data) == [f"job.config_hash: {data['job']['config_hash']!r} is not the hash of job.config "
                              f"({config_hash(data['job']['config'])}): the record was edited after it was written"]
    data = good()
    data["job"]["detector"] = "btf-raw"  # relabelled: the config still names the detector that ran
    assert messages(data) == ["job.detector: 'btf-raw' but job.config.detector.name says 'det'"]


def test_metrics_are_recomputed_from_the_records_own_sample_scores():
    data = good()
    data["metrics"]["a"]["i_auroc"] = 0.95
    assert messages(data) == ["metrics.a.i_auroc: recorded 0.95 but the record's own sample scores give 0.8"]
    data = good()
    data["samples"][0]["label"] = 1  # counts no longer match the samples either
    got = messages(data)
    assert got[0] == "counts.a: 10 normal / 10 anomalous, but the samples hold 9 / 11"
    assert got[1].startswith("metrics.a.i_auroc: recorded 0.8 but the record's own sample scores give 0.7")


@pytest.mark.parametrize("data", [[], "record", 3, None, True, {"job": []}, {"schema_version": "2", "job": {}},
                                  {"schema_version": 2, "job": "x"}, {"schema_version": 1, "job": {"config": 5}},
                                  {"schema_version": 99, "job": {}}])
def test_any_json_shape_gives_named_problems_never_an_exception(data):
    problems = check_record(data)
    assert problems and all(p.message for p in problems)


def test_deep_nesting_is_a_problem_not_a_recursion_error(tmp_path):
    deep = tmp_path / "a_deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    nested = good()
    nested["job"]["config"]["x"] = json.loads("[" * 70 + "]" * 70)
    assert "nested deeper than 64 levels" in messages(nested)[0]
    write_record(make_record("det", "a", 0), tmp_path / "b_ok.json")
    checks = list(scan_results(tmp_path))
    assert [c.path.name for c in checks] == ["a_deep.json", "b_ok.json"]
    assert "nested 100000 levels deep" in str(checks[0].problems[0]) and checks[1].ok


def test_unreadable_files_are_named(tmp_path):
    (tmp_path / "latin1.json").write_bytes('{"name": "caf\xe9"}'.encode("latin-1"))
    (tmp_path / "broken.json").write_text('{"schema_version": 2, ')
    (tmp_path / "dup.json").write_text('{"schema_version": 2, "schema_version": 1, "job": {}}')
    assert "not UTF-8 text" in str(read_json(tmp_path / "latin1.json")[1][0])
    assert "not JSON" in str(read_json(tmp_path / "broken.json")[1][0])
    assert "key 'schema_version' appears twice" in str(read_json(tmp_path / "dup.json")[1][0])


def test_other_json_is_not_a_record(tmp_path):
    (tmp_path / "notes.json").write_text('{"todo": ["rerun"]}')
    check = check_file(tmp_path / "notes.json")
    assert not check.is_record and not check.ok


def test_leaderboard_records_skip_stray_and_invalid_files_with_a_warning(tmp_path):
    from benchkit.aggregate import load_records

    write_record(make_record("det", "a", 0), tmp_path / "toy" / "ok.json")
    (tmp_path / "toy" / "notes.json").write_text("[1, 2]")
    bad = make_record("det", "b", 0).model_dump(mode="json")
    bad["metrics"]["b"]["i_auroc"] = 7.5
    (tmp_path / "toy" / "tampered.json").write_text(json.dumps(bad))
    (tmp_path / "toy" / "deep.json").write_text("{" * 5000)
    with pytest.warns(UserWarning) as caught:
        records = load_records(tmp_path)
    assert [p.name for p, _ in records] == ["ok.json"]
    text = sorted(str(w.message) for w in caught)
    assert len(text) == 3
    assert "deep.json: invalid record left out: JSON nested 5000 levels deep" in text[0]
    assert text[1].endswith("notes.json: not a result record; skipped")
    assert "tampered.json: invalid record left out: metrics.b.i_auroc" in text[2]


def test_a_record_claiming_pretrained_over_a_random_init_backbone_is_refused():
    data = make_record().model_dump(mode="json")
    data["weights"] = "pretrained"
    data["backbones"] = [{"name": "point-mae", "version": "1.0", "kind": "point-groups", "weights": "random-init"}]
    assert [p.where for p in check_record(data)] == ["weights"]
    data["weights"] = "random-init"
    assert check_record(data) == []
