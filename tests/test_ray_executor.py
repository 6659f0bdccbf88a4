"""`benchkit run --executor ray` (plugin benchkit-ray) on a real local Ray cluster of 2 CPUs.

The cluster is started before the variables that steer the test detectors are set, so the jobs only see those
variables if the executor passes the driver's BENCHKIT_* environment through Ray's runtime_env.
"""

from __future__ import annotations

import pytest

from benchkit.results import iter_records

ray = pytest.importorskip("ray")


@pytest.mark.slow
def test_ray_executor_records_ok_failed_and_crashed_jobs(bk_env, cli, monkeypatch, capsys):
    for var in ("RAY_ADDRESS", "BENCHKIT_RAY_ADDRESS", "BENCHKIT_RAY_GPUS_PER_JOB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no network: no usage reports, no dashboard
    results = bk_env / "results"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        monkeypatch.setenv("BENCHKIT_TEST_FAIL_ON", "egg")
        code = cli("run", "--detector", "raising", "--dataset", "tiny-points", "--executor", "ray", "--workers", "2",
                   "--results", str(results), "--no-site", "--quiet")
        assert code == 1
        recs = {r.job.category: r for _, r in iter_records(results)}
        assert set(recs) == {"ball", "egg", "pill"}
        failed = recs.pop("egg")
        assert failed.status == "failed" and failed.error.type == "RuntimeError"
        assert "deliberate failure in fit" in failed.error.traceback
        for rec in recs.values():
            assert rec.status == "ok" and rec.provenance.executor == "ray" and rec.efficiency.rss_isolated
            assert rec.metrics[rec.job.category]["i_auroc"] > 0.9
        assert "raising on tiny-points/egg" in capsys.readouterr().err
        leftovers = [p for p in results.rglob("*") if p.is_file() and p.suffix != ".json"
                     and not p.parent.name.endswith(".thumbs")]  # a job's pictures (benchkit.thumbnails) may stay
        assert not leftovers  # no temporary leftovers

        # Now the raising detector's worker process exits (code 7); seed 1: a new record, not the failed one above.
        monkeypatch.setenv("BENCHKIT_TEST_CRASH", "1")
        assert cli("run", "--detector", "raising", "--dataset", "tiny-points", "--category", "egg", "--seed", "1",
                   "--executor", "ray", "--results", str(results), "--no-site", "--quiet") == 1
        [crashed] = [r for _, r in iter_records(results) if r.job.seed == 1]
        assert crashed.status == "failed" and crashed.error.type == "WorkerCrash"
        assert "worker process died" in crashed.error.message and "WorkerCrashedError" in crashed.error.message
        assert ray.is_initialized()  # the executor leaves a connection it did not open alone

        # A task that returns no result (here `work` is a no-op) is reported as the task's own error.
        from benchkit.planning import Planner
        from benchkit.plugins import get_registry
        from benchkit_ray.executor import RayExecutor

        jobs, _ = Planner(get_registry(), results).expand(["nn-distance"], ["tiny-points"], ["one-model-one-class"],
                                                          [2], category="ball")
        [(job, result, crash)] = list(RayExecutor(workers=1).run(jobs, lambda job: None))
        assert job is jobs[0] and result is None
        assert crash.startswith("the Ray task raised RuntimeError: the job returned no result")
    finally:
        ray.shutdown()
