from pathlib import Path

import pytest


@pytest.fixture
def traced_env(benchkit_env, monkeypatch):
    """benchkit_env plus the traced test datasets (a3_fixtures) registered through BENCHKIT_PLUGINS."""
    from benchkit.testing_traced import add_test_plugins

    add_test_plugins(monkeypatch, Path(__file__).parent, "a3_fixtures")
    return benchkit_env
