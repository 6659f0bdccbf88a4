"""Shared fixtures: an isolated cache and results folder, and the test plugins of `fixture_plugins.py`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent


@pytest.fixture
def bk_env(tmp_path, monkeypatch):
    """Isolated cache/results and the fixture plugins registered through BENCHKIT_PLUGINS (inherited by workers)."""
    from benchkit.plugins import set_registry

    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCHKIT_PLUGINS", "fixture_plugins")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    set_registry(None)
    yield tmp_path
    set_registry(None)


def run_cli(*args: str) -> int:
    from benchkit.cli import main

    return main(list(args))


@pytest.fixture
def cli():
    return run_cli
