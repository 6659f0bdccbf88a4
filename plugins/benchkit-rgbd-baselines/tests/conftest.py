"""Fixtures shared by the M3DM and CFM tests: one synthetic-rgbd category generated once per session, and an
isolated feature cache and weights folder per test."""

from __future__ import annotations

import pytest
from benchkit.plugins import get_registry


@pytest.fixture(scope="session")
def donut(tmp_path_factory):
    """(train, test) samples of synthetic-rgbd's ``donut`` category (10 + 12), generated into a temporary cache."""
    dataset = get_registry().datasets["synthetic-rgbd"].factory(tmp_path_factory.mktemp("data") / "synthetic-rgbd")
    dataset.prepare()
    return tuple([dataset.load(ref) for ref in dataset.index("donut", split)] for split in ("train", "test"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path / "weights"))
