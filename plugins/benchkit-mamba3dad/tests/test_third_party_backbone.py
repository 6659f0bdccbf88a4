"""A backbone from another distribution: any registered ``point-groups`` backbone runs as ``mamba3dad:<name>``.

The test writes a tiny third-party distribution (a module and its ``*.dist-info`` with an entry point in the
``benchkit`` group) into a temporary folder, puts the folder on ``PYTHONPATH`` and runs the real CLI on one
synthetic-pc category, exactly as a user who pip-installed that distribution would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BACKBONE_MODULE = '''
"""A weight-free point-groups backbone: per group, the mean and spread of its points around the centre."""
import numpy as np
from benchkit import Backbone, BackboneSpec, Tokens, hookimpl
from benchkit_components.groups import make_groups


class SpreadBackbone(Backbone):
    def __init__(self, num_group=64, group_size=32):
        self.num_group, self.group_size = num_group, group_size

    def encode(self, points):
        groups = make_groups(points, self.num_group, self.group_size)
        offsets = groups.neighbourhoods(np.asarray(points, dtype=np.float32))
        features = np.concatenate([offsets.mean(axis=1), offsets.std(axis=1)], axis=1)
        return Tokens(features=features.astype(np.float32), centers=groups.centers, groups=groups.index)


@hookimpl
def register_backbones(register):
    register(BackboneSpec(name="group-spread", version="0.1", kind="point-groups", output_dim=6,
                          description="mean and spread of each group's offsets", factory=SpreadBackbone))
'''


def _third_party_distribution(root: Path) -> Path:
    root.mkdir()
    (root / "group_spread_backbone.py").write_text(textwrap.dedent(BACKBONE_MODULE))
    info = root / "group_spread_backbone-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: group-spread-backbone\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[benchkit]\ngroup_spread = group_spread_backbone\n")
    return root


@pytest.mark.slow
def test_mamba3dad_runs_on_a_backbone_registered_by_another_distribution(tmp_path):
    site = _third_party_distribution(tmp_path / "site")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               BENCHKIT_CACHE=str(tmp_path / "cache"), BENCHKIT_WEIGHTS=str(tmp_path / "weights"))
    benchkit = [sys.executable, "-m", "benchkit"]
    listed = subprocess.run(benchkit + ["list", "backbones", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "group-spread" in listed.stdout

    results = tmp_path / "results"
    run = subprocess.run(benchkit + ["run", "--detector", "mamba3dad:group-spread", "--dataset", "synthetic-pc",
                                     "--category", "blob", "--results", str(results), "--workers", "1",
                                     "--param", "epochs=2", "--no-site", "--quiet"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    records = [json.loads(p.read_text()) for p in results.rglob("blob__seed0.json")]
    assert len(records) == 1, list(results.rglob("*.json"))
    record = records[0]
    assert record["status"] == "ok", record.get("error")
    assert record["job"]["detector"] == "mamba3dad:group-spread"
    assert 0.0 <= record["metrics"]["blob"]["i_auroc"] <= 1.0
    assert [(b["name"], b["weights"]) for b in record["backbones"]] == [("group-spread", "none")]
