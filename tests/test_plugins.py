"""Plugin loading: real entry points from a distribution on sys.path, broken plugins, duplicates, strict mode."""

from __future__ import annotations

import json
import textwrap

import pytest

from benchkit.errors import PluginError
from benchkit.plugins import build_registry


def make_distribution(root, dist: str, module: str, body: str, ep_name: str | None = None) -> None:
    """A minimal installed distribution: a module plus a dist-info with an entry point of group `benchkit`."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[benchkit]\n{ep_name or module} = {module}\n")


GOOD = """
    from benchkit import DetectorSpec, Detector, hookimpl

    class Noop(Detector):
        def fit(self, samples):
            return self
        def predict(self, samples):
            return []

    @hookimpl
    def register_detectors(register):
        register(DetectorSpec("third-party-det", "0.9", "from an installed distribution", Noop,
                              frozenset({"points"})))
"""


def test_entry_point_plugin_is_loaded(tmp_path, monkeypatch):
    make_distribution(tmp_path, "bk-thirdparty", "bk_thirdparty", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = build_registry()
    assert "third-party-det" in registry.detectors
    assert registry.owner[("detectors", "third-party-det")] == "bk-thirdparty"
    info = next(p for p in registry.plugins if p.name == "bk_thirdparty")
    assert (info.distribution, info.version, info.registers) == ("bk-thirdparty", "1.2.3",
                                                                  {"detectors": ["third-party-det"]})


def test_broken_plugin_warns_and_is_skipped(tmp_path, monkeypatch):
    make_distribution(tmp_path, "bk-broken", "bk_broken", "import does_not_exist_anywhere\n")
    make_distribution(tmp_path, "bk-thirdparty", "bk_thirdparty", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BENCHKIT_STRICT_PLUGINS", raising=False)
    with pytest.warns(UserWarning, match=r"skipping plugin 'bk_broken' \(distribution bk-broken\).*does_not_exist"):
        registry = build_registry()
    assert "third-party-det" in registry.detectors  # the others still load
    assert [p.name for p in registry.failed_plugins if p.distribution == "bk-broken"] == ["bk_broken"]


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path, monkeypatch):
    make_distribution(tmp_path, "bk-broken", "bk_broken", "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCHKIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="bk_broken.*bk-broken.*boom"):
        build_registry()


def test_duplicate_names_name_both_plugins(tmp_path, monkeypatch):
    make_distribution(tmp_path, "bk-thirdparty", "bk_thirdparty", GOOD)
    make_distribution(tmp_path, "bk-copycat", "bk_copycat", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="duplicate detector name 'third-party-det'.*bk-"):
        build_registry()


def test_plugins_json_lists_distributions(bk_env, cli, capsys):
    assert cli("plugins", "--json") == 0
    plugins = json.loads(capsys.readouterr().out)
    fixture = next(p for p in plugins if p["name"] == "fixture_plugins")
    assert fixture["registers"]["detectors"] == ["nn-distance", "raising", "slow", "spy", "needs-rgb"]
    builtin = next(p for p in plugins if p["name"] == "benchkit.default_plugins.settings")
    assert builtin["distribution"] == "benchkit"


def test_list_json_and_unknown_names(bk_env, cli, capsys):
    assert cli("list", "datasets", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name": "tiny-points", "embedded": True}.items() <= next(r for r in rows if r["name"] == "tiny-points").items()
    assert cli("run", "--detector", "no-such-detector", "--dataset", "tiny-points") == 2
    assert "unknown detector 'no-such-detector'" in capsys.readouterr().err


def test_every_hook_is_documented():
    from benchkit import hookspecs

    hooks = [n for n in dir(hookspecs) if n.startswith("register_")]
    assert set(hooks) == {"register_datasets", "register_detectors", "register_backbones", "register_settings",
                          "register_executors"}
    assert all(getattr(hookspecs, h).__doc__ for h in hooks)
