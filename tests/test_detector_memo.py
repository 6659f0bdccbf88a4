"""The planner's memo of detector parameters and backbones: reused while the detector's source files are unchanged,
rebuilt when one changes."""

from __future__ import annotations

import importlib
import os
import sys

from benchkit import DetectorSpec
from benchkit.detector_memo import describe

SOURCE = '''
from benchkit import Detector

BUILDS = []


class Counted(Detector):
    def __init__(self, backbone="none", width=WIDTH, seed=0):
        BUILDS.append(1)
        self.backbone, self.width, self.seed = backbone, width, seed

    def fit(self, samples):
        return self

    def predict(self, samples):
        return []


def make(**params):
    return Counted(**params)
'''


def test_describe_reuses_its_answer_until_a_source_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    module_file = tmp_path / "memo_plugin.py"
    module_file.write_text(SOURCE.replace("WIDTH", "3"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("memo_plugin")
    spec = DetectorSpec(name="counted", version="1.0", factory=module.make, consumes=frozenset({"points"}),
                        description="counts its builds")

    assert describe(spec, {"seed": 1}) == ({"backbone": "none", "width": 3, "seed": 1}, ["none"])
    assert describe(spec, {"seed": 1})[0]["width"] == 3 and len(module.BUILDS) == 1  # reused
    describe(spec, {"seed": 2})
    assert len(module.BUILDS) == 2  # other parameters: another entry

    module_file.write_text(SOURCE.replace("WIDTH", "5"))  # a new default, say
    stat = module_file.stat()
    os.utime(module_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    del sys.modules["memo_plugin"]
    module = importlib.import_module("memo_plugin")
    spec = DetectorSpec(name="counted", version="1.0", factory=module.make, consumes=frozenset({"points"}),
                        description="counts its builds")
    assert describe(spec, {"seed": 1})[0]["width"] == 5 and len(module.BUILDS) == 1  # built again
