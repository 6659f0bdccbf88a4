"""Small labelled clouds for SeDiR's tests: a few analytic shapes, anomalies as local bumps or dents."""

import numpy as np

from benchkit import Sample

SHAPES = ("sphere", "ellipsoid", "cylinder")


def shape(category: str, n: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    if category == "sphere":
        p = u
    elif category == "ellipsoid":
        p = u * [1.6, 1.0, 0.6]
    else:
        a, z = rng.uniform(0, 2 * np.pi, n), rng.uniform(-1, 1, n)
        p = np.stack([np.cos(a), np.sin(a), z], axis=1)
    return (p + rng.normal(scale=0.003, size=(n, 3))).astype(np.float32)


def bump(points: np.ndarray, rng: np.random.Generator, radius: float = 0.35, height: float = 0.15):
    centre = points[rng.integers(len(points))]
    d = np.linalg.norm(points - centre, axis=1)
    inside = d < radius
    out = points.copy()
    out[inside] += (height * (1 - d[inside] / radius))[:, None] * centre / np.linalg.norm(centre)
    return out, inside.astype(np.uint8)


def make(train_per_shape=3, test_per_shape=4, n=800, seed=0, shapes=SHAPES, radius=0.35, height=0.15):
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in shapes:
        train += [Sample(id=f"{c}-train{i}", category=c, label=0, points=shape(c, n, rng))
                  for i in range(train_per_shape)]
        for i in range(test_per_shape):
            points = shape(c, n, rng)
            if i % 2:
                points, gt = bump(points, rng, radius, height)
            else:
                gt = np.zeros(n, np.uint8)
            test.append(Sample(id=f"{c}-test{i}", category=c, label=int(i % 2), points=points, gt=gt))
    return train, test
