"""What produced a result is part of its identity: the record path carries the detector version and random-init,
so neither overwrites another record; ``--metrics`` selects what is scored; organized data record the legacy
100-threshold AU-PRO beside the exact one by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchkit.jobs import path_of_record, record_path
from benchkit.results import iter_records


def test_record_path_names_version_and_random_init(tmp_path):
    base = record_path(tmp_path, "real3d-ad", "unified", "sedir:fpfh", "all", 0, version="0.2")
    assert base == tmp_path / "real3d-ad" / "unified" / "sedir_fpfh@0.2" / "all__seed0.json"
    assert record_path(tmp_path, "real3d-ad", "unified", "sedir:fpfh", "all", 0, version="0.1") != base
    rnd = record_path(tmp_path, "real3d-ad", "unified", "sedir:fpfh", "all", 0, version="0.2", weights="random-init")
    assert rnd.parent.name == "sedir_fpfh@0.2+random-init"
    assert record_path(tmp_path, "real3d-ad", "unified", "sedir:fpfh", "all", 0, version="0.2",
                       weights="pretrained") == base


def test_runs_at_two_versions_keep_both_records_and_give_two_rows(bk_env, cli, monkeypatch):
    import fixture_plugins

    from benchkit.aggregate import summarize
    from benchkit.plugins import set_registry

    results = bk_env / "results"
    args = ["run", "--detector", "nn-distance", "--dataset", "tiny-points", "--category", "egg", "--results",
            str(results), "--no-site", "--quiet", "--workers", "1"]
    assert cli(*args) == 0
    original = fixture_plugins.register_detectors

    def newer(register):  # the same detector, released as version 2
        def versioned(spec):
            if spec.name == "nn-distance":
                import dataclasses
                spec = dataclasses.replace(spec, version="2")
            register(spec)
        original(versioned)

    monkeypatch.setattr(fixture_plugins, "register_detectors", fixture_plugins.hookimpl(newer))
    set_registry(None)
    assert cli(*args) == 0
    recs = list(iter_records(results))
    assert sorted(r.job.detector_version for _, r in recs) == ["1", "2"]
    assert all(path == path_of_record(results, r) for path, r in recs)
    rows = summarize([r for _, r in recs], {"tiny-points": ["egg"]}).rows
    assert sorted(zip(rows.detector_version, rows.stale)) == [("1", True), ("2", False)]


def test_metrics_option_selects_and_rejects(bk_env, cli, capsys):
    results = bk_env / "results"
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--category", "egg", "--results",
               str(results), "--no-site", "--quiet", "--metrics", "i_auroc,p_aupr") == 0
    (_, rec), = iter_records(results)
    assert set(rec.metrics["egg"]) == {"i_auroc", "p_aupr"} and rec.job.config["metrics"] == ["i_auroc", "p_aupr"]
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--results", str(results),
               "--metrics", "aupro@0.3/legacy100") == 2
    assert "needs organized" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--metrics", "i_aurok")


def test_organized_records_carry_the_legacy_aupro_by_default(bk_env, cli):
    """synthetic-rgbd (MVTec 3D-AD layout): the default metrics include aupro@0.3/legacy100 beside aupro@0.3."""
    results = bk_env / "results"
    assert cli("run", "--detector", "nn-distance", "--dataset", "synthetic-rgbd", "--category", "cable",
               "--results", str(results), "--no-site", "--quiet", "--workers", "1") == 0
    (_, rec), = iter_records(results)
    assert rec.status == "ok", rec.error
    values = rec.metrics["cable"]
    assert {"aupro@0.3", "aupro@0.3/legacy100", "aupro@0.01", "aupro@0.01/legacy100"} <= set(values)
    assert values["aupro@0.3/legacy100"] is not None and 0.0 <= values["aupro@0.3/legacy100"] <= 1.0
