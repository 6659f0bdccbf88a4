"""pytest fixtures for benchkit plugin authors, loaded automatically where benchkit is installed (``pytest11``).

- ``benchkit_env``: an isolated cache (generated data, feature cache) and weights folder (``BENCHKIT_CACHE``,
  ``BENCHKIT_WEIGHTS``) and a fresh plugin registry; yields a results folder to pass to ``--results``.
- ``benchkit_samples``: `benchkit.testing.make_samples`, e.g. ``train, test = benchkit_samples("organized")``.
- ``benchkit_cli``: runs the ``benchkit`` command in-process and returns its exit code.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def benchkit_env(tmp_path, monkeypatch):
    from benchkit.plugins import set_registry

    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path / "weights"))
    set_registry(None)
    yield tmp_path / "results"
    set_registry(None)


@pytest.fixture
def benchkit_samples():
    from benchkit.testing import make_samples

    return make_samples


@pytest.fixture
def benchkit_cli():
    def run(*args: str) -> int:
        from benchkit.cli import main

        return main([str(a) for a in args])

    return run
