import os
from pathlib import Path

import pytest


@pytest.fixture
def traced_env(benchkit_env, monkeypatch):
    """benchkit_env plus the traced test datasets (a3_fixtures) registered through BENCHKIT_PLUGINS."""
    from benchkit.plugins import set_registry

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("BENCHKIT_PLUGINS", ",".join(filter(None, [os.environ.get("BENCHKIT_PLUGINS"), "a3_fixtures"])))
    set_registry(None)
    yield benchkit_env
    set_registry(None)
