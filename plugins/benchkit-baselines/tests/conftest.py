"""Small synthetic data for the baseline tests: an ellipsoid cloud with Gaussian bumps (unorganized) and a wavy
height field with Gaussian dents seen as an organized cloud with an empty border (MVTec 3D-AD style)."""

import numpy as np
import pytest
from benchkit import Sample


def ellipsoid(n: int, rng: np.random.Generator, bump: np.ndarray | None = None):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    points = v * [1.0, 0.7, 0.5]
    gt = np.zeros(n, dtype=np.uint8)
    if bump is not None:
        distance = np.linalg.norm(v - bump / np.linalg.norm(bump), axis=1)
        height = 0.25 * np.exp(-((distance / 0.15) ** 2))
        points = points + v * height[:, None]
        gt = (height > 0.02).astype(np.uint8)
    return points + rng.normal(scale=0.002, size=points.shape), gt


def point_cloud_split(seed: int = 0, n: int = 1500, n_train: int = 3, n_test: int = 6):
    """Training clouds and test clouds (odd ones carry a bump), as benchkit Samples with per-point gt."""
    rng = np.random.default_rng(seed)
    train = [Sample(id=f"train{i}", category="ellipsoid", label=0, points=ellipsoid(n, rng)[0]) for i in range(n_train)]
    test = []
    for i in range(n_test):
        anomalous = i % 2 == 1
        points, gt = ellipsoid(n, rng, rng.normal(size=3) if anomalous else None)
        test.append(Sample(id=f"test{i}", category="ellipsoid", label=int(anomalous), points=points, gt=gt))
    return train, test


def height_field(rng: np.random.Generator, size: int, dent=None, sample_id: str = "x") -> Sample:
    yy, xx = np.mgrid[0:size, 0:size] / size * 0.1  # a 10 cm patch, in metres like MVTec 3D-AD
    z = 0.3 + 0.01 * np.sin(xx * 60) * np.cos(yy * 40) + rng.normal(scale=2e-5, size=xx.shape)
    gt = np.zeros((size, size), dtype=np.uint8)
    if dent is not None:
        depth = 0.006 * np.exp(-((xx - dent[0]) ** 2 + (yy - dent[1]) ** 2) / (2 * 0.005**2))
        z = z - depth
        gt = (depth > 0.0006).astype(np.uint8)
    xyz = np.stack([xx, yy, z], axis=-1).astype(np.float32)
    border = size // 10
    xyz[:border] = 0
    xyz[:, :border] = 0
    gt[:border] = 0
    gt[:, :border] = 0
    return Sample(id=sample_id, category="field", label=int(dent is not None), xyz=xyz, gt=gt)


def organized_split(seed: int = 0, size: int = 64, n_train: int = 3, n_test: int = 6):
    rng = np.random.default_rng(seed)
    train = [height_field(rng, size, sample_id=f"train{i}") for i in range(n_train)]
    test = [height_field(rng, size, rng.uniform(0.03, 0.08, 2) if i % 2 else None, f"test{i}") for i in range(n_test)]
    return train, test


@pytest.fixture(scope="session")
def point_clouds():
    return point_cloud_split()


@pytest.fixture(scope="session")
def organized_clouds():
    return organized_split()


@pytest.fixture(scope="session")
def make_ellipsoid():
    return ellipsoid
