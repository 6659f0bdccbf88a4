"""The harness end to end on the in-memory test dataset: records, failures, crashes, resume, skips."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchkit.results import iter_records, load_record


def records(results: Path) -> dict[tuple[str, str, str], object]:
    return {(r.job.detector, r.job.setting, r.job.category): r for _, r in iter_records(results)}


def test_run_writes_one_valid_record_per_job(bk_env, cli):
    results = bk_env / "results"
    code = cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--results", str(results),
               "--no-site", "--quiet")
    assert code == 0
    recs = records(results)
    assert set(recs) == {("nn-distance", "one-model-one-class", c) for c in ("ball", "egg", "pill")}
    rec = recs[("nn-distance", "one-model-one-class", "egg")]
    assert rec.status == "ok" and rec.error is None
    assert rec.counts["egg"].model_dump() == {"train": 4, "test_normal": 3, "test_anomalous": 3}
    assert rec.metrics["egg"]["i_auroc"] > 0.9 and rec.metrics["egg"]["p_auroc"] > 0.9
    eff = rec.efficiency
    assert eff.fit_seconds > 0 and eff.latency_ms_median > 0 and eff.throughput_per_s > 0
    assert eff.timed_samples == 6 and eff.warmup_samples == 1
    assert eff.peak_rss_mb > eff.baseline_rss_mb > 0 and eff.rss_isolated
    assert eff.memory_bank_bytes == 4 * 400 * 3 * 4 and eff.parameters is None
    assert rec.weights == "none" and rec.job.seed == 0 and len(rec.job.config_hash) == 16
    assert rec.provenance.executor == "local" and rec.provenance.packages["benchkit"]
    assert [s.label for s in rec.samples] == [0, 0, 0, 1, 1, 1]


def test_unified_record_has_per_category_and_mean(bk_env, cli):
    results = bk_env / "results"
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--setting", "unified",
               "--results", str(results), "--no-site", "--quiet", "--executor", "inline") == 0
    rec = records(results)[("nn-distance", "unified", "all")]
    assert set(rec.metrics) == {"ball", "egg", "pill", "mean"}
    assert abs(rec.metrics["mean"]["i_auroc"] - sum(rec.metrics[c]["i_auroc"] for c in ("ball", "egg", "pill")) / 3) < 1e-12
    assert rec.counts["ball"].train == 4 and not rec.efficiency.rss_isolated


def test_a_failing_job_is_recorded_and_the_run_goes_on(bk_env, cli, monkeypatch, capsys):
    monkeypatch.setenv("BENCHKIT_TEST_FAIL_ON", "egg")
    results = bk_env / "results"
    code = cli("run", "--detector", "raising", "--dataset", "tiny-points", "--results", str(results),
               "--no-site", "--quiet", "--workers", "2")
    assert code == 1
    recs = records(results)
    failed = recs[("raising", "one-model-one-class", "egg")]
    assert failed.status == "failed" and failed.error.type == "RuntimeError"
    assert "deliberate failure in fit" in failed.error.traceback
    assert recs[("raising", "one-model-one-class", "ball")].status == "ok"
    assert recs[("raising", "one-model-one-class", "pill")].status == "ok"
    assert "raising on tiny-points/egg" in capsys.readouterr().err


def test_a_crashing_worker_gets_a_failed_record(bk_env, cli, monkeypatch):
    monkeypatch.setenv("BENCHKIT_TEST_FAIL_ON", "ball")
    monkeypatch.setenv("BENCHKIT_TEST_CRASH", "1")
    results = bk_env / "results"
    assert cli("run", "--detector", "raising", "--dataset", "tiny-points", "--category", "ball",
               "--results", str(results), "--no-site", "--quiet") == 1
    rec = records(results)[("raising", "one-model-one-class", "ball")]
    assert rec.status == "failed" and rec.error.type == "WorkerCrash" and "code 7" in rec.error.message


def test_incompatible_combination_is_recorded_as_skipped(bk_env, cli):
    results = bk_env / "results"
    assert cli("run", "--detector", "needs-rgb", "--dataset", "tiny-points", "--results", str(results),
               "--no-site", "--quiet") == 0
    rec = records(results)[("needs-rgb", "one-model-one-class", "all")]
    assert rec.status == "skipped" and "needs rgb" in rec.error.message


def test_second_run_reruns_nothing(bk_env, cli, capsys):
    results = bk_env / "results"
    args = ("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--results", str(results),
            "--no-site", "--quiet")
    assert cli(*args) == 0
    stamps = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    capsys.readouterr()
    assert cli(*args) == 0
    assert "0 ok, 0 failed, 0 skipped, 3 already done" in capsys.readouterr().err
    assert stamps == {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}


def test_changed_config_reruns(bk_env, cli, capsys):
    results = bk_env / "results"
    base = ("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--category", "ball",
            "--results", str(results), "--no-site", "--quiet")
    assert cli(*base) == 0
    assert cli(*base, "--seed", "3") == 0
    capsys.readouterr()
    assert cli(*base, "--seed", "3") == 0
    assert "1 already done" in capsys.readouterr().err


def test_interrupted_run_leaves_no_partial_json_and_resumes(bk_env):
    results = bk_env / "results"
    env = dict(os.environ, BENCHKIT_TEST_SLEEP="1.5")
    cmd = [sys.executable, "-m", "benchkit.cli", "run", "--detector", "slow", "--dataset", "tiny-points",
           "--results", str(results), "--no-site", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(results.rglob("*.json")):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the CLI and its worker, mid-job
    proc.wait()
    done = list(results.rglob("*.json"))
    assert 1 <= len(done) < 3
    for path in results.rglob("*"):  # every file present is a complete record; no temporary leftovers
        if ".thumbs" in path.parent.name:  # a job's pictures (benchkit.thumbnails): written into a hidden .tmp folder,
            continue  # renamed into place when complete; one a killed job left is removed when the job runs again
        if path.is_file() and not path.name.endswith(".claim"):  # the killed run's claim: unlocked, reused on resume
            assert path.suffix == ".json", path
            json.loads(path.read_text())
    kept = {p: load_record(p).provenance.timestamp for p in done}
    env["BENCHKIT_TEST_SLEEP"] = "0"
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{len(done)} already done" in out.stderr
    assert len(list(results.rglob("*.json"))) == 3
    assert kept == {p: load_record(p).provenance.timestamp for p in done}
    assert not list(results.rglob("*.claim"))  # every claim released with its record
    assert not list(results.rglob(".*.tmp"))  # pictures a killed job was writing: removed when it ran again


def test_a_crash_replaces_an_older_failed_record(bk_env, cli, monkeypatch):
    monkeypatch.setenv("BENCHKIT_TEST_FAIL_ON", "ball")
    results = bk_env / "results"
    args = ("run", "--detector", "raising", "--dataset", "tiny-points", "--category", "ball",
            "--results", str(results), "--no-site", "--quiet")
    assert cli(*args) == 1
    assert records(results)[("raising", "one-model-one-class", "ball")].error.type == "RuntimeError"
    monkeypatch.setenv("BENCHKIT_TEST_CRASH", "1")
    assert cli(*args) == 1  # failed jobs are re-run; this time the worker dies
    assert records(results)[("raising", "one-model-one-class", "ball")].error.type == "WorkerCrash"


def test_dataset_options_reach_the_reader_and_the_record(bk_env, cli, capsys):
    results = bk_env / "results"
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--results", str(results),
               "--dataset-option", 'tiny-points.only=["egg"]', "--no-site", "--quiet") == 0
    recs = records(results)
    assert set(recs) == {("nn-distance", "one-model-one-class", "egg")}  # a partial copy runs what it holds
    rec = recs[("nn-distance", "one-model-one-class", "egg")]
    assert rec.job.config["dataset"]["options"] == {"only": ["egg"]} and rec.incomplete
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--dataset-option", "only",
               "--results", str(results), "--no-site", "--quiet") == 2
    assert "DATASET.KEY=VALUE" in capsys.readouterr().err


def test_jobs_with_the_most_samples_start_first():
    """Longest-first scheduling: a unified job (every category's samples) is handed out before one-class jobs, and
    jobs of equal size keep their planned order."""
    from types import SimpleNamespace

    from benchkit.driver import largest_first

    def job(name, n_train, n_test):
        return SimpleNamespace(name=name, plan=SimpleNamespace(train=[0] * n_train, test=[0] * n_test))

    planned = [job("a", 4, 12), job("b", 4, 12), job("unified", 24, 72), job("few", 1, 12), job("c", 4, 12)]
    assert [j.name for j in largest_first(planned)] == ["unified", "a", "b", "c", "few"]
