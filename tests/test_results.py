"""The result record schema: round trip, rejection of bad records, migrations, atomic writes, CLI."""

from __future__ import annotations

import json

import pytest

from benchkit import results as R


CONFIG = {"detector": {"name": "btf-fpfh", "version": "1"}, "dataset": {"name": "synthetic-pc", "version": "1"},
          "setting": {"name": "one-model-one-class"}, "category": "ball", "seed": 0}


def make_record(**over) -> R.Record:
    data = dict(
        benchkit_version="0.1.0",
        job=R.JobInfo(detector="btf-fpfh", detector_version="1", dataset="synthetic-pc", dataset_version="1",
                      setting="one-model-one-class", category="ball", seed=0, config=CONFIG,
                      config_hash=R.config_hash(CONFIG)),
        status="ok",
        counts={"ball": R.Counts(train=4, test_normal=3, test_anomalous=3)},
        metrics={"ball": {"i_auroc": 0.9, "p_auroc": None}},
        provenance=R.Provenance(python="3.11", platform="linux", cpu="cpu", threads=2, device="cpu",
                                executor="local", packages={"benchkit": "0.1.0"}, timestamp="2026-01-01T00:00:00+00:00"),
    )
    data.update(over)
    return R.Record(**data)


def test_round_trip(tmp_path):
    rec = make_record()
    R.write_record(rec, tmp_path / "r.json")
    assert R.load_record(tmp_path / "r.json") == rec
    assert json.loads((tmp_path / "r.json").read_text())["schema_version"] == R.SCHEMA_VERSION


def test_bad_records_are_rejected_with_every_problem(tmp_path):
    data = make_record().model_dump(mode="json")
    data["surprise"] = 1
    data["status"] = "great"
    del data["job"]["seed"]
    with pytest.raises(R.RecordError) as err:
        R.parse_record(data, "bad.json")
    text = str(err.value)
    assert "bad.json" in text and "surprise" in text and "status" in text and "job.seed" in text
    assert len(err.value.problems) == 3


def test_newer_schema_is_refused():
    data = make_record().model_dump(mode="json")
    data["schema_version"] = R.SCHEMA_VERSION + 1
    with pytest.raises(R.RecordError, match="newer than this benchkit"):
        R.parse_record(data)


def test_version_1_records_are_migrated():
    """Version 1's zero-shot-one-vs-rest (train on every other category) is version 2's zero-shot-leave-one-out;
    the migrated record's config hash still matches its config."""
    data = make_record().model_dump(mode="json")
    data["schema_version"] = 1
    data.pop("backbones")
    data["job"]["setting"] = "zero-shot-one-vs-rest"
    data["job"]["config"]["setting"] = {"name": "zero-shot-one-vs-rest"}
    data["job"]["config_hash"] = R.config_hash(data["job"]["config"])
    record = R.parse_record(data)
    assert record.schema_version == R.SCHEMA_VERSION == 2
    assert record.job.setting == record.job.config["setting"]["name"] == "zero-shot-leave-one-out"
    assert record.job.config_hash == R.config_hash(record.job.config)
    assert record.backbones == []


def test_a_version_without_migration_is_named(monkeypatch):
    data = make_record().model_dump(mode="json")
    data["schema_version"] = 1
    monkeypatch.delitem(R.MIGRATIONS, 1)
    with pytest.raises(R.RecordError, match="no migration from schema_version 1"):
        R.parse_record(data)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "r.json"
    R.write_json_atomic(path, {"ok": 1})
    with pytest.raises(ValueError):
        R.write_json_atomic(path, {"bad": float("nan")})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_schema_and_validate_commands(tmp_path, cli, capsys):
    assert cli("schema") == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False and "job" in schema["required"]
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    R.write_record(make_record(), good)
    bad.write_text(json.dumps({**make_record().model_dump(mode="json"), "status": "meh", "extra": 1}))
    assert cli("validate", str(good)) == 0
    assert cli("validate", str(good), str(bad)) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "status" in err and "extra" in err
