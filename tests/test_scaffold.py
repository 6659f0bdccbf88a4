"""benchkit new detector|dataset: the package it writes installs, passes its contract checks, runs, and its
detector gets its own leaderboard page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchkit.scaffold import new_plugin
from benchkit.site import build_site

BIN = Path(sys.executable).parent


def test_new_dataset_package_passes_its_own_test(tmp_path):
    root = new_plugin("dataset", "my-scans", tmp_path)
    assert (root / "pyproject.toml").read_text().count('my_scans = "benchkit_my_scans.plugin"') == 1
    sys.path.insert(0, str(root))
    try:
        namespace: dict = {}
        exec(compile((root / "tests" / "test_my_scans.py").read_text(), "test_my_scans.py", "exec"), namespace)
        namespace["test_contract"](tmp_path / "copy")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("benchkit_my_scans")]:
            del sys.modules[name]


def test_new_refuses_bad_names_and_existing_folders(tmp_path, cli, capsys):
    assert cli("new", "detector", "My_Det", "--dir", str(tmp_path)) == 2
    assert "lower-case" in capsys.readouterr().err
    assert cli("new", "detector", "det", "--dir", str(tmp_path)) == 0
    assert cli("new", "detector", "det", "--dir", str(tmp_path)) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.slow
def test_new_detector_installs_passes_check_detector_runs_and_appears_on_the_site(tmp_path):
    root = new_plugin("detector", "demo", tmp_path / "src", url="https://example.org/benchkit-demo")
    target = tmp_path / "installed"  # a pip install that leaves the shared environment alone
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(root)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
           "BENCHKIT_CACHE": str(tmp_path / "cache")}
    env.pop("BENCHKIT_PLUGINS", None)
    check = subprocess.run([sys.executable, "-c", "from benchkit.testing import check_detector; "
                            "from benchkit_demo.plugin import SPEC; print(check_detector(SPEC, min_auroc=0.8))"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    results = tmp_path / "results"
    run = subprocess.run([str(BIN / "benchkit"), "run", "--detector", "demo", "--dataset", "synthetic-pc", "--category",
                          "blob", "--results", str(results), "--workers", "1", "--quiet", "--no-site"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    index = build_site(results, tmp_path / "site")
    page = (index.parent / "detectors" / "demo.html").read_text()
    assert "benchkit-demo</code> 0.1.0" in page and "https://example.org/benchkit-demo" in page
    assert "detectors/demo.html" in index.read_text()
    assert list((index.parent / "thumbs").glob("*/*--map.png"))  # the driver pictured its maps
