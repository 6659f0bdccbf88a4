"""Point groups (patches): the unit that point-transformer backbones tokenize and detectors score.

A cloud of N points becomes G groups: G centres chosen by farthest-point sampling (starting from point 0, so it is
deterministic) and, for each centre, its K nearest points (Point-MAE / Point-BERT grouping). Detectors score groups
and give the scores back to points with `reproject_scores`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchkit_components.neighbours import knn, spread_to_points
from benchkit_components.sampling import farthest_point_sampling


@dataclass
class Groups:
    """G groups of K points: ``centers`` (G, 3), ``center_index`` (G,) into the cloud, ``index`` (G, K) into the
    cloud (each row sorted by distance to its centre, the centre first)."""

    centers: np.ndarray
    center_index: np.ndarray
    index: np.ndarray

    def neighbourhoods(self, points: np.ndarray) -> np.ndarray:
        """(G, K, 3) coordinates of each group's points relative to its centre (Point-MAE's normalisation)."""
        return points[self.index] - self.centers[:, None, :]


def make_groups(points: np.ndarray, num_group: int, group_size: int, device: str = "cpu") -> Groups:
    """FPS centres + kNN groups. Group size is clipped to the cloud size; a cloud with fewer points than
    ``num_group`` repeats centres (see `farthest_point_sampling`)."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"expected an N x 3 cloud, got shape {points.shape}")
    center_index = farthest_point_sampling(points, num_group, device=device)
    centers = points[center_index]
    _, index = knn(points, centers, group_size)
    return Groups(centers=centers, center_index=center_index, index=index)


def reproject_scores(
    group_scores: np.ndarray,
    groups: np.ndarray,
    points: np.ndarray,
    centers: np.ndarray,
    reduce: str = "max",
) -> np.ndarray:
    """Per-point scores from per-group scores.

    A point covered by one or more groups takes the max (``reduce="max"``) or the mean (``"mean"``) of their scores;
    a point in no group takes the score of its nearest group centre.
    """
    scores = np.asarray(group_scores, dtype=np.float64)
    groups = np.asarray(groups)
    if groups.shape[0] != scores.shape[0]:
        raise ValueError(f"{scores.shape[0]} group scores for {groups.shape[0]} groups")
    n = len(points)
    flat_idx = groups.reshape(-1)
    flat_val = np.repeat(scores, groups.shape[1])
    counts = np.bincount(flat_idx, minlength=n)
    if reduce == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, flat_idx, flat_val)
    elif reduce == "mean":
        out = np.bincount(flat_idx, weights=flat_val, minlength=n) / np.maximum(counts, 1)
    else:
        raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
    uncovered = counts == 0
    if uncovered.any():
        out[uncovered] = spread_to_points(centers, scores, np.asarray(points)[uncovered])
    return out.astype(np.float32)


def smooth_scores(points: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Each point's score averaged with its k-1 nearest neighbours' (k <= 1: unchanged). Removes single-point spikes."""
    if k <= 1:
        return np.asarray(scores, dtype=np.float32)
    _, idx = knn(points, points, k)
    return np.asarray(scores, dtype=np.float32)[idx].mean(axis=1)


def normalize_to_unit_sphere(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The cloud centred on its centroid and scaled into the unit ball (how Point-MAE's pre-training data was
    prepared), with the centroid and scale to undo it."""
    points = np.asarray(points, dtype=np.float32)
    centroid = points.mean(axis=0)
    radius = float(np.linalg.norm(points - centroid, axis=1).max())
    scale = radius if radius > 0 else 1.0
    return (points - centroid) / scale, centroid, scale
