"""benchkit.testing: check_detector passes a detector that keeps the contract and names each rule a broken one
breaks; check_dataset; the pytest plugin's fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixture_plugins  # noqa: E402

from benchkit import DetectorSpec, Prediction  # noqa: E402
from benchkit.testing import ContractError, TinyPoints, check_dataset, check_detector, make_samples  # noqa: E402

POINTS = frozenset({"points"})


def _spec(cls, **kw):
    return DetectorSpec(kw.pop("name", "t"), "1", "test detector", cls, POINTS, **kw)


def test_a_detector_that_keeps_the_contract_passes():
    done = check_detector(_spec(fixture_plugins.NNDistance), min_auroc=0.9)
    assert {"params round trip", "determinism per seed", "answers hidden", "class-agnostic"} <= set(done)


class ReadsAnswers(fixture_plugins.NNDistance):
    def predict(self, samples):
        return [Prediction(float(s.label or 0), p.map) for s, p in zip(samples, super().predict(samples))]


class Unseeded(fixture_plugins.NNDistance):
    def predict(self, samples):
        return [Prediction(p.score + float(np.random.random()), p.map) for p in super().predict(samples)]


class LyingParams(fixture_plugins.NNDistance):
    def __init__(self, k: int = 1, seed: int = 0) -> None:
        super().__init__(k=k + 1, seed=seed)  # stores something else than was passed


class WrongShape(fixture_plugins.NNDistance):
    def predict(self, samples):
        return [Prediction(p.score, p.map[:-1]) for p in super().predict(samples)]


@pytest.mark.parametrize("cls, message", [
    (ReadsAnswers, "reads the answers"),
    (Unseeded, "same seed gave different"),
    (LyingParams, "constructors only store parameters"),
    (WrongShape, "one score per input point"),
])
def test_each_broken_rule_is_named(cls, message):
    with pytest.raises(ContractError) as err:
        check_detector(_spec(cls))
    assert message in str(err.value)


def test_samples_and_dataset_check(tmp_path):
    train, test = make_samples("organized", rgb=True)
    assert train[0].xyz.shape == (32, 32, 3) and train[0].rgb.dtype == np.uint8 and not train[0].valid[0, 0]
    assert [s.label for s in test] == [0, 0, 0, 1, 1, 1] and test[-1].gt.any() and not test[0].gt.any()
    spec = fixture_plugins.DatasetSpec("tiny", "1", "tiny", TinyPoints, POINTS, embedded=True)
    assert "samples load" in check_dataset(spec, tmp_path)


def test_pytest_plugin_fixtures(benchkit_env, benchkit_samples, benchkit_cli, capsys):
    import os

    assert os.environ["BENCHKIT_CACHE"].startswith(str(benchkit_env.parent))
    train, _ = benchkit_samples("points")
    assert train[0].points.shape == (400, 3)
    assert benchkit_cli("--version") == 0 and capsys.readouterr().out.strip()


def test_generated_once_writes_a_file_once_and_links_it_where_each_test_asks(tmp_path):
    from benchkit.backbones import file_digest
    from benchkit.testing import generated_once

    calls = []

    def write(path, seed):
        calls.append(seed)
        path.write_bytes(bytes([seed]) * 1000)

    a = generated_once(write, tmp_path / "a" / "weights.pth", seed=7)
    b = generated_once(write, tmp_path / "b" / "weights.pth", seed=7)
    other = generated_once(write, tmp_path / "c" / "weights.pth", seed=8)
    assert calls == [7, 8] and a.read_bytes() == b.read_bytes() == bytes([7]) * 1000 != other.read_bytes()
    assert a.is_symlink() and file_digest(a) == file_digest(b)  # one digest for the shared file
