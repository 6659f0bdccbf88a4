"""`benchkit run --param` / `--config`: parameters reach the detector, enter the config hash, and bad ones are named.

The shipped ablation configs of the seed papers (plugins/*/configs/*.toml) each run on synthetic-pc (with the
weight-free backbone variant, so no weights are needed) and give a config hash of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchkit.results import iter_records

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(ROOT.glob("plugins/benchkit-sedir/configs/*.toml")) + sorted(
    ROOT.glob("plugins/benchkit-mamba3dad/configs/*.toml"))
#: The weight-free variant each shipped config is run with, and the cheapest parameters that still train it.
VARIANT = {"benchkit-sedir": ("sedir:fpfh", "unified", ["epochs=1", "num_group=32", "group_size=16"]),
           "benchkit-mamba3dad": ("mamba3dad:fpfh", "one-model-one-class", ["epochs=1", "num_group=16",
                                                                         "group_size=16"])}


def test_param_reaches_the_detector_and_changes_the_hash(bk_env, cli):
    results = bk_env / "results"
    base = ["run", "--detector", "nn-distance", "--dataset", "tiny-points", "--category", "egg", "--results",
            str(results), "--no-site", "--quiet", "--executor", "inline"]
    assert cli(*base) == 0
    assert cli(*base, "--param", "k=2") == 0  # a new config: runs again into the same path
    [record] = [r for _, r in iter_records(results)]
    assert record.job.config["detector"]["params"]["k"] == 2


def test_unknown_param_is_a_usage_error_naming_the_valid_ones(bk_env, cli, capsys):
    code = cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--param", "kk=2", "--no-site")
    assert code == 2
    err = capsys.readouterr().err
    assert "kk" in err and "valid: k" in err


def test_bad_config_files_are_named(bk_env, cli, capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("detector = 'nn-distance'\nparams = 3\n")
    assert cli("run", "--config", str(bad), "--dataset", "tiny-points", "--no-site") == 2
    assert "[params] must be a table" in capsys.readouterr().err
    bad.write_text("detectr = 'x'\n")
    assert cli("run", "--config", str(bad), "--no-site") == 2
    assert "unknown keys detectr" in capsys.readouterr().err
    assert cli("run", "--config", str(tmp_path / "none.toml"), "--no-site") == 2


def test_every_shipped_ablation_config_is_valid_toml_naming_real_parameters():
    import tomllib

    assert len(CONFIGS) >= 12
    for path in CONFIGS:
        data = tomllib.loads(path.read_text())
        assert data["detector"] in ("sedir", "mamba3dad") and data["params"] and data["description"], path.name


@pytest.mark.slow
def test_each_shipped_ablation_config_runs_on_synthetic_pc_with_its_own_hash(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    hashes = {}
    for path in CONFIGS:
        detector, setting, cheap = VARIANT[path.parent.parent.name]
        results = tmp_path / path.parent.parent.name / path.stem
        args = ["run", "--config", str(path), "--detector", detector, "--dataset", "synthetic-pc", "--setting",
                setting, "--results", str(results), "--no-site", "--quiet", "--executor", "inline"]
        if setting == "one-model-one-class":
            args += ["--category", "blob"]
        for p in cheap:
            args += ["--param", p]
        assert cli(*args) == 0, path.name
        [record] = [r for _, r in iter_records(results)]
        assert record.status == "ok", (path.name, record.error)
        assert record.metrics, path.name
        hashes[path] = record.job.config_hash
    assert len(set(hashes.values())) == len(hashes)  # every ablation is a configuration of its own
