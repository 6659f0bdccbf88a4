"""`benchkit run --executor slurm` end to end through submitit's local executor (``cluster=local``): the same
submission, pickling and result path as on a SLURM cluster, with the tasks run as local subprocesses."""

from __future__ import annotations

import pytest

from benchkit.results import iter_records

pytest.importorskip("submitit")
pytest.importorskip("benchkit_slurm")


@pytest.mark.slow
def test_slurm_executor_runs_jobs_and_records_failures_and_crashes(bk_env, cli, monkeypatch, capsys):
    env = bk_env
    results = env / "results"
    slurm = ["--executor", "slurm", "--executor-option", "cluster=local", "--executor-option",
             f"folder={env / 'submitit'}", "--results", str(results), "--no-site", "--quiet"]
    monkeypatch.setenv("BENCHKIT_TEST_FAIL_ON", "egg")
    assert cli("run", "--detector", "raising", "--dataset", "tiny-points", "--workers", "2", *slurm) == 1
    recs = {r.job.category: r for _, r in iter_records(results)}
    assert set(recs) == {"ball", "egg", "pill"}
    failed = recs.pop("egg")
    assert failed.status == "failed" and failed.error.type == "RuntimeError"
    assert "deliberate failure in fit" in failed.error.traceback
    for rec in recs.values():
        assert rec.status == "ok" and rec.provenance.executor == "slurm" and rec.efficiency.rss_isolated
        assert rec.metrics[rec.job.category]["i_auroc"] > 0.9
    assert "raising on tiny-points/egg" in capsys.readouterr().err

    # The task's process dies (exit code 7): a WorkerCrash record with submitit's explanation.
    monkeypatch.setenv("BENCHKIT_TEST_CRASH", "1")
    assert cli("run", "--detector", "raising", "--dataset", "tiny-points", "--category", "egg", "--seed", "1",
               *slurm) == 1
    [crashed] = [r for _, r in iter_records(results) if r.job.seed == 1]
    assert crashed.status == "failed" and crashed.error.type == "WorkerCrash"
    assert "the SLURM task" in crashed.error.message


def test_unknown_executor_options_are_usage_errors(bk_env, cli, capsys):
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--executor", "slurm",
               "--executor-option", "partiton=gpu", "--no-site") == 2
    assert "partiton" in capsys.readouterr().err
