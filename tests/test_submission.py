"""benchkit validate --submission: records fit for the public leaderboard, and each way one is not."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import make_record  # noqa: E402

from benchkit.results import BackboneUse, PluginRef, write_record  # noqa: E402
from benchkit.submission import check_submission  # noqa: E402


def _publishable(**plugin):
    rec = make_record("det", "a", 0, {"a": {"i_auroc": 0.8}}, weights="pretrained",
                      backbones=[("point-mae", "pretrained")])
    rec.backbones[0].path = "/weights/pointmae.pth"
    rec.provenance.git_dirty = False
    rec.provenance.detector_plugin = PluginRef(**{"distribution": "benchkit-det", "version": "1.2.0",
                                                  "source": "https://example.org/det", **plugin})
    return rec


def _write(tmp_path, rec, name="r.json", edit=None):
    path = tmp_path / name
    write_record(rec, path)
    if edit:
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
    return path


def test_a_publishable_record_passes(tmp_path, cli):
    path = _write(tmp_path, _publishable())
    assert check_submission(path).ok
    assert cli("validate", "--submission", str(path)) == 0


def _out_of_range(data):
    data["metrics"]["a"]["i_auroc"] = 1.7


def _random_init_as_pretrained(rec):
    rec.backbones.append(BackboneUse(name="clip", version="1", kind="image-patches", weights="random-init"))
    return rec


def _no_plugin(rec):
    rec.provenance.detector_plugin = None
    return rec


@pytest.mark.parametrize("make, edit, message", [
    (_publishable, _out_of_range, "1.7"),
    (lambda: _random_init_as_pretrained(_publishable()), None, "random"),  # strict checks or publication checks
    (lambda: _no_plugin(_publishable()), None, "provenance.detector_plugin: missing"),
    (lambda: _publishable(version="1.2.0.dev3"), None, "development release"),
    (lambda: _publishable(version="1.2.0+local"), None, "local part"),
])
def test_each_unpublishable_record_is_rejected_with_its_reason(tmp_path, cli, capsys, make, edit, message):
    path = _write(tmp_path, make(), edit=edit)
    check = check_submission(path)
    assert not check.ok and any(message in str(p) for p in check.problems), check.problems
    assert cli("validate", "--submission", str(path)) == 1
    assert message in capsys.readouterr().err


def test_digestless_pretrained_and_dirty_checkout_are_rejected(tmp_path):
    rec = _publishable()
    rec.backbones[0].sha256 = None
    rec.provenance.git_dirty = True
    problems = " ".join(map(str, check_submission(_write(tmp_path, rec)).problems))
    assert "without its weights file and SHA-256" in problems and "uncommitted changes" in problems


def test_a_plugin_without_a_public_source_is_rejected(tmp_path):
    for source in (None, "javascript:alert(1)", "/home/me/src"):
        problems = check_submission(_write(tmp_path, _publishable(source=source))).problems
        assert any("no public source URL" in str(p) for p in problems), source
