"""The four baselines with their default parameters on one category of each embedded synthetic benchmark (generated
once per session into a temporary cache): clearly above chance, maps of the right shape, same scores for the same
seed (registration, subsampling and coreset included)."""

import numpy as np
import pytest
from benchkit.plugins import get_registry
from sklearn.metrics import roc_auc_score

from benchkit_baselines.plugin import SPECS

SPEC = {spec.name: spec for spec in SPECS}
CATEGORY = {"synthetic-pc": "blob", "synthetic-rgbd": "donut"}
#: synthetic-rgbd defects these geometry-only detectors can see; stains and colour changes leave the depth as it is
GEOMETRIC = {None, "good", "bump", "dent", "crack"}

#: I-AUROC floors (over good samples and the defects that change the geometry), a margin below what the defaults
#: scored (seed 0; few test samples, so one swap of a good and a defective sample moves I-AUROC by several points). btf-raw on synthetic-rgbd is left out: raw depth patches are not
#: invariant to the objects' random in-plane pose and the plane's random tilt, and it scores at or below chance
#: there (see the plugin's report); its run is still checked for shape and determinism.
IMAGE_FLOOR = {
    ("btf-raw", "synthetic-pc"): 0.8,
    ("btf-fpfh", "synthetic-pc"): 0.8,
    ("patchcore-fpfh", "synthetic-pc"): 0.8,
    ("patchcore-fpfh-raw", "synthetic-pc"): 0.8,
    ("btf-fpfh", "synthetic-rgbd"): 0.8,
    ("patchcore-fpfh", "synthetic-rgbd"): 0.7,
    ("patchcore-fpfh-raw", "synthetic-rgbd"): 0.7,
}


@pytest.fixture(scope="session")
def synthetic_splits(tmp_path_factory):
    """{dataset: (train, test)} for the tested category, loaded once."""
    registry = get_registry()
    cache = tmp_path_factory.mktemp("benchkit-cache")
    splits = {}
    for name, category in CATEGORY.items():
        dataset = registry.datasets[name].factory(cache / name)
        dataset.prepare()
        splits[name] = tuple([dataset.load(ref) for ref in dataset.index(category, split)] for split in ("train", "test"))
    return splits


def _pixel_labels(sample, anomaly_map):
    from benchkit_components.grid import resize_nearest

    gt = sample.gt if anomaly_map.shape == sample.gt.shape else resize_nearest(sample.gt, anomaly_map.shape)
    return (np.asarray(gt) > 0).ravel()


def _check_on_category(name, dataset, splits, n_train=None, image_floor=True, **params):
    train, test = splits[dataset]
    detector = SPEC[name].build(seed=0, **params).fit(train[:n_train])
    predictions = detector.predict([s.hidden() for s in test])
    expected = (224, 224) if name.startswith("btf") and dataset == "synthetic-rgbd" else None
    for sample, prediction in zip(test, predictions):
        assert prediction.map.shape == (expected or sample.map_shape)
        assert np.isfinite(prediction.map).all() and np.isfinite(prediction.score)

    visible = [i for i, s in enumerate(test) if s.defect in GEOMETRIC]
    image_auroc = roc_auc_score([test[i].label for i in visible], [predictions[i].score for i in visible])
    pixel_auroc = roc_auc_score(np.concatenate([_pixel_labels(s, p.map) for s, p in zip(test, predictions)]),
                                np.concatenate([p.map.ravel() for p in predictions]))
    print(f"{name} {dataset} {params}: I-AUROC {image_auroc:.3f} P-AUROC {pixel_auroc:.3f}")
    floor = IMAGE_FLOOR.get((name, dataset)) if image_floor else None
    if floor is not None:
        assert image_auroc >= floor, (image_auroc, pixel_auroc)
    if (name, dataset) != ("btf-raw", "synthetic-rgbd"):
        assert pixel_auroc > 0.6, (image_auroc, pixel_auroc)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_default_detector_on_synthetic_pc(name, synthetic_splits):
    _check_on_category(name, "synthetic-pc", synthetic_splits)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPEC))
def test_default_detector_on_synthetic_rgbd(name, synthetic_splits):
    _check_on_category(name, "synthetic-rgbd", synthetic_splits)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_small_detector_on_synthetic_rgbd(name, synthetic_splits):
    # the fast version of the test above: a quarter of the points and half the training images. Image scores are
    # not checked: with 1,024 points a few-millimetre bump on a 12 cm scene is often missed (I-AUROC 0.42-0.67
    # measured), which is why max_points defaults to 4,096; the maps still localize (P-AUROC 0.66-0.79).
    _check_on_category(name, "synthetic-rgbd", synthetic_splits, n_train=5, image_floor=False, max_points=1024)


@pytest.mark.parametrize("dataset", sorted(CATEGORY))
@pytest.mark.parametrize("name", sorted(SPEC))
def test_same_seed_same_output_on_synthetic(name, dataset, synthetic_splits):
    # subsampling, registration (RANSAC, ICP) and coreset all run: clouds are larger than max_points
    train, test = synthetic_splits[dataset]
    hidden = [s.hidden() for s in test[:2]]
    runs = [SPEC[name].build(seed=7, max_points=1000).fit(train[:3]).predict(hidden) for _ in range(2)]
    assert [p.score for p in runs[0]] == [p.score for p in runs[1]]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a.map, b.map)
