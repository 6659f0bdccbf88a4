"""Metrics are computed in a process that imports no detector plugin: a plugin that patches `benchkit.metrics` at
import time (`hostile_metrics.py`) cannot change what is recorded. The inline executor, which scores in the
driver's own process, is the control: there the patch does take effect, and the record says where it was scored."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def hostile(bk_env, monkeypatch):
    import benchkit.metrics

    monkeypatch.setenv("BENCHKIT_PLUGINS", "fixture_plugins,hostile_metrics")
    monkeypatch.setattr(benchkit.metrics, "compute_metrics", benchkit.metrics.compute_metrics)  # restored after
    monkeypatch.delitem(sys.modules, "hostile_metrics", raising=False)  # imported afresh, so it patches again
    yield bk_env
    sys.modules.pop("hostile_metrics", None)


def _record(cli, results, executor: str):
    from benchkit.results import iter_records

    assert cli("run", "--detector", "metrics-patcher", "--dataset", "tiny-points", "--category", "egg", "--results",
               str(results), "--executor", executor, "--no-site", "--quiet", "--workers", "1") == 0
    (record,) = [r for _, r in iter_records(results)]
    assert record.status == "ok"
    return record


def test_a_plugin_patching_metrics_at_import_cannot_change_recorded_metrics(hostile, cli):
    record = _record(cli, hostile / "results", "local")
    assert record.provenance.scored_in == "isolated"
    assert "hostile_metrics" in sys.modules  # the driver did import it (and so was patched) ...
    metrics = record.metrics["egg"]
    assert metrics["i_auroc"] == 0.5 and metrics["p_auroc"] == 0.5  # ... yet a constant detector scores chance


def test_the_inline_executor_scores_in_the_driver_and_says_so(hostile, cli):
    record = _record(cli, hostile / "results", "inline")
    assert record.provenance.scored_in == "driver"
    assert record.metrics["egg"]["i_auroc"] == 1.0  # the patch reached the scoring: the attack the test guards


def test_errors_of_the_answer_process_reach_the_driver_intact():
    """A damaged test file raises DataError in the answer process; it must cross the process boundary as itself
    (an exception the driver cannot unpickle would break the process pool and fail every later job)."""
    import pickle

    from benchkit.errors import DataError

    error = pickle.loads(pickle.dumps(DataError("cat/test/000.tiff", "cannot read", "re-download the category")))
    assert (type(error), error.path, error.problem, error.fix) == (DataError, "cat/test/000.tiff", "cannot read",
                                                                  "re-download the category")
