"""`--device`: a torch detector runs on the device asked for, latency is CUDA-synchronized and peak CUDA memory and
the device's name are recorded. The CUDA case runs only where torch sees a GPU (skipped elsewhere)."""

from __future__ import annotations

import pytest

from benchkit.results import iter_records

torch = pytest.importorskip("torch")
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_a_torch_detector_runs_on_the_requested_device(device, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    code = cli("run", "--detector", "mamba3dad:fpfh", "--dataset", "synthetic-pc", "--category", "blob",
               "--device", device, "--param", "epochs=1", "--param", "num_group=16", "--param", "group_size=16",
               "--results", str(results), "--no-site", "--quiet", "--workers", "1")
    assert code == 0
    [record] = [r for _, r in iter_records(results)]
    assert record.status == "ok", record.error
    assert record.provenance.device.startswith(device)
    assert record.job.config["detector"]["params"]["device"] == device
    if device == "cuda":
        assert "(" in record.provenance.device and record.efficiency.peak_gpu_mb > 0
    else:
        assert record.efficiency.peak_gpu_mb is None


def test_a_cpu_only_detector_refuses_another_device(bk_env, cli, capsys):
    assert cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--device", "cuda", "--no-site") == 2
    assert "takes no device" in capsys.readouterr().err
