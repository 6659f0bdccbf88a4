"""`benchkit run` end to end on tiny copies of the four real datasets, in their original layouts, with a classic
detector: the readers, the harness and the metrics work together on every layout."""

from __future__ import annotations

import pytest

from benchkit.results import iter_records

pytest.importorskip("benchkit_datasets")
pytest.importorskip("benchkit_baselines")
from benchkit_datasets import testing  # noqa: E402

MAKERS = {"mvtec3d": testing.make_mvtec3d, "eyecandies": testing.make_eyecandies,
          "real3d-ad": testing.make_real3d, "anomaly-shapenet": testing.make_shapenet}


@pytest.mark.parametrize("dataset", sorted(MAKERS))
def test_run_on_a_tiny_copy_of_each_real_dataset(dataset, bk_env, cli, capsys):
    data = bk_env / "data"
    MAKERS[dataset](data / dataset)
    results = bk_env / "results"
    code = cli("run", "--detector", "btf-raw", "--dataset", dataset, "--data-root", str(data),
               "--results", str(results), "--no-site", "--quiet", "--executor", "inline")
    assert code == 0, capsys.readouterr().err
    records = [r for _, r in iter_records(results)]
    assert len(records) == 2 and all(r.status == "ok" for r in records)
    for rec in records:
        assert rec.incomplete  # a tiny copy holds only some of the benchmark's categories
        (metrics,) = rec.metrics.values()
        assert metrics["i_auroc"] is not None and metrics["p_auroc"] is not None
        assert ("aupro@0.3" in metrics) == (dataset in ("mvtec3d", "eyecandies"))
