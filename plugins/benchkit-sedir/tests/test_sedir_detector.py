"""SeDiR end to end on small clouds: determinism, category handling, weights flags, scores above chance."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from benchkit import DataError, MissingWeightsError
from benchkit.backbones import job_options
from benchkit_sedir.detector import SeDiR

sys.path.insert(0, str(Path(__file__).parent))
from sedir_toy_data import make  # noqa: E402

SMALL = dict(backbone="fpfh", num_group=32, group_size=32, d_model=32, epochs=15, batch_size=4)


@pytest.fixture(scope="module")
def data():
    return make(test_per_shape=6, radius=0.5, height=0.3)


@pytest.fixture(scope="module")
def fitted(data):
    train, _ = data
    return SeDiR(**SMALL, seed=0).fit(train)


def _scores(det, test):
    preds = det.predict([s.hidden(category=True) for s in test])
    return np.array([p.score for p in preds]), [p.map for p in preds]


def test_deterministic_for_a_fixed_seed(data, fitted):
    train, test = data
    again = SeDiR(**SMALL, seed=0).fit(train)
    for a, b in zip(fitted.net_.state_dict().values(), again.net_.state_dict().values()):
        torch.testing.assert_close(a, b)
    (sa, ma), (sb, mb) = _scores(fitted, test[:3]), _scores(again, test[:3])
    np.testing.assert_array_equal(sa, sb)
    for a, b in zip(ma, mb):
        np.testing.assert_array_equal(a, b)
    other = SeDiR(**SMALL, seed=1).fit(train)
    assert not np.array_equal(_scores(other, test[:3])[0], sa)


def test_above_chance_on_bumps(data, fitted):
    _, test = data
    scores, maps = _scores(fitted, test)
    o_auroc = roc_auc_score([s.label for s in test], scores)
    p_auroc = roc_auc_score(np.concatenate([s.gt for s in test]), np.concatenate(maps))
    assert maps[0].shape == (len(test[0].points),)
    assert o_auroc > 0.65 and p_auroc > 0.75, (o_auroc, p_auroc)


def test_test_time_ignores_the_category(data, fitted):
    _, test = data
    with_cat = fitted.predict(test[:2])
    without = fitted.predict([s.hidden(category=True) for s in test[:2]])
    assert [p.score for p in with_cat] == [p.score for p in without]


def test_training_needs_categories(data):
    train, _ = data
    with pytest.raises(DataError, match="unified"):
        SeDiR(**SMALL).fit([s.without_category() for s in train])


@pytest.mark.parametrize("switch", ["use_scl", "use_cls", "use_cos"])
def test_each_loss_switch_changes_the_trained_model(data, switch):
    train, _ = data
    quick = {**SMALL, "epochs": 2}
    on = SeDiR(**quick).fit(train[::2])
    off = SeDiR(**quick, **{switch: False}).fit(train[::2])
    assert not torch.allclose(on.net_.blocks[0].attn.q.weight, off.net_.blocks[0].attn.q.weight)


def test_params_report_the_values_in_force():
    params = SeDiR(backbone="fpfh").get_params()
    assert params["num_group"] == 128 and params["group_size"] == 32 and params["epochs"] == 40
    assert SeDiR().get_params()["num_group"] == 1024  # Point-MAE: M3DM's grouping
    assert SeDiR(backbone="fpfh", epochs=3).get_params()["epochs"] == 3
    with pytest.raises(ValueError, match="guidance"):
        SeDiR(guidance="attention")


def test_point_mae_without_weights_is_skipped_unless_random_init_is_allowed(data, tmp_path, monkeypatch):
    train, test = data
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path))
    tiny = dict(num_group=16, group_size=16, d_model=32, epochs=1)
    with pytest.raises(MissingWeightsError, match=str(tmp_path / "pointmae_pretrain.pth")):
        SeDiR(**tiny).fit(train)
    with job_options(allow_random_init=True) as options:  # what the harness does for --allow-random-init
        det = SeDiR(**tiny).fit(train[:3])
    assert [(b["name"], b["weights"]) for b in options.built] == [("point-mae", "random-init")]
    assert len(det.torch_modules()) == 2  # SeDiR's network and the Point-MAE encoder
    assert np.isfinite(det.predict(test[:1])[0].score)
