"""The pixels (points) of an evaluated set, sorted once and shared by every pixel-level metric, with the AU-PRO
regions and weights of organized maps; and the legacy quantile-threshold AU-PRO that reads them.

The conventions (pooling, valid masks, 8-connected regions) are those of `benchkit.metrics`, the public entry point.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from benchkit.metrics_ranks import Ranks, count_ranks, unit

_REGION_STRUCTURE = np.ones((3, 3), dtype=bool)  # 8-connectivity


class PixelSet:
    """All pixels (points) of an evaluated set: the sorted scores of all, the scores of the anomalous ones and, for
    organized maps, each anomalous pixel's region weight. Built once and shared by every pixel-level metric."""

    def __init__(self, gts, maps, *, organized: bool, valid=None, regions: bool = False) -> None:
        if gts is None or maps is None:
            raise ValueError("pixel/point metrics need both gts and maps")
        if len(gts) != len(maps):
            raise ValueError(f"got {len(gts)} ground-truth maps but {len(maps)} anomaly maps")
        if valid is not None and len(valid) != len(maps):
            raise ValueError(f"got {len(valid)} valid masks but {len(maps)} anomaly maps")
        ndim = 2 if organized else 1
        self.maps = [np.asarray(m) for m in maps]
        self.anomalous: list[np.ndarray] = []
        self.counted: list[np.ndarray | None] = []
        for i, (gt, values) in enumerate(zip(gts, self.maps)):
            gt = np.asarray(gt)
            if values.ndim != ndim:
                kind = "(H, W) maps (organized)" if organized else "(N,) per-point maps"
                raise ValueError(f"anomaly map of sample {i} has shape {values.shape}; expected {kind}")
            if gt.shape != values.shape:
                raise ValueError(f"ground truth of sample {i} has shape {gt.shape} but its anomaly map has shape "
                                 f"{values.shape}; resize both to the evaluation resolution first")
            mask = None
            if valid is not None:
                mask = np.asarray(valid[i], dtype=bool)
                if mask.shape != values.shape:
                    raise ValueError(f"valid mask of sample {i} has shape {mask.shape}, expected {values.shape}")
            self.anomalous.append(gt > 0)
            self.counted.append(mask)
        self._regions = regions and organized

    def _counted(self, i: int, values: np.ndarray) -> np.ndarray:
        mask = self.counted[i]
        return values.ravel() if mask is None else values[mask]

    @cached_property
    def all_sorted(self) -> np.ndarray:
        """Every counted score, ascending (the one big sort). NaN sorts last, so one look finds any."""
        parts = [self._counted(i, m) for i, m in enumerate(self.maps)]
        scores = np.concatenate(parts) if parts else np.zeros(0)
        scores.sort()
        if scores.size and scores.dtype.kind == "f" and np.isnan(scores[-1]):
            bad = next(i for i, p in enumerate(parts) if np.isnan(p).any())
            raise ValueError(f"pixel/point metrics: anomaly map of sample {bad} contains NaN")
        return scores

    @cached_property
    def positives(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores of the counted anomalous pixels and, with regions, their AU-PRO weights 1 / (n_regions * |r|)."""
        scores, region_ids = [], []
        n_regions = 0
        for i, (values, anomalous) in enumerate(zip(self.maps, self.anomalous)):
            selected = anomalous if self.counted[i] is None else anomalous & self.counted[i]
            if not selected.any():
                continue
            if not self._regions:
                scores.append(values[selected])
                continue
            # label only the bounding box of the defects: they are small, and labelling whole maps dominated the cost
            cols = np.flatnonzero(anomalous.any(axis=0))
            rows = np.flatnonzero(anomalous.any(axis=1))
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            from scipy import ndimage

            labeled, count = ndimage.label(anomalous[box], structure=_REGION_STRUCTURE)
            inside = selected[box]
            scores.append(values[box][inside])
            region_ids.append(labeled[inside] + (n_regions - 1))
            n_regions += count
        if not scores:
            return np.zeros(0), (np.zeros(0) if self._regions else None)
        pos = np.concatenate(scores)
        if not self._regions:
            return pos, None
        ids = np.concatenate(region_ids)
        sizes = np.bincount(ids, minlength=n_regions)
        kept = np.count_nonzero(sizes)  # regions left without counted pixels are dropped
        return pos, 1.0 / (kept * sizes[ids])

    @cached_property
    def ranks(self) -> Ranks:
        pos, weights = self.positives
        return count_ranks(self.all_sorted, pos, weights)

    def negatives_at(self, ranks: np.ndarray) -> np.ndarray:
        """The counted normal scores at the given ranks (0-based, ascending): the legacy AU-PRO's quantile
        thresholds, read off the one big sort by binary search instead of sorting the normal scores again (a second
        full-size sorted copy would double the memory; a few hundred searches cost milliseconds)."""
        scores = self.all_sorted
        positives = np.sort(self.positives[0])

        def normals_up_to(j: int) -> int:  # counted normal scores <= scores[j]
            v = scores[j]
            return int(np.searchsorted(scores, v, "right") - np.searchsorted(positives, v, "right"))

        out = np.empty(len(ranks), dtype=scores.dtype)
        for i, k in enumerate(np.asarray(ranks, dtype=np.int64)):
            lo, hi = 0, scores.size - 1
            while lo < hi:  # the smallest index whose value has more than k normal scores at or below it
                mid = (lo + hi) // 2
                if normals_up_to(mid) > k:
                    hi = mid
                else:
                    lo = mid + 1
            out[i] = scores[lo]
        return out


def legacy_aupro(pixels: PixelSet, limit: float, num_thresholds: int) -> float | None:
    """The quantile-threshold AU-PRO of the BTF / M3DM / Real3D-AD utility (utils/au_pro_util.py), step by step."""
    pos, weights = pixels.positives
    n_ok = pixels.all_sorted.size - pos.size
    if not n_ok or weights is None or not weights.size:
        return None
    # 2. thresholds at evenly spaced positions over the sorted OK scores; a region pixel counts when strictly above
    positions = np.linspace(0, n_ok - 1, num=num_thresholds, dtype=int)
    thresholds = pixels.negatives_at(positions)
    fprs = 1.0 - (positions + 1) / n_ok
    order = np.argsort(pos, kind="stable")
    not_detected = np.concatenate([[0.0], np.cumsum(weights[order])])
    pros = 1.0 - not_detected[np.searchsorted(pos[order], thresholds, side="right")]
    # 3. prepend (FPR=1, PRO=1), then order by ascending FPR (the reference reverses the lists)
    x = np.concatenate([[1.0], fprs])[::-1]
    y = np.concatenate([[1.0], pros])[::-1]
    # 4. trapezoid up to the limit, PRO interpolated linearly at the limit when it is not a sample point
    correction = 0.0
    if limit not in x:
        ins = int(np.searchsorted(x, limit, side="right"))
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (limit - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (limit - x[ins - 1])
    keep = x <= limit
    x, y = x[keep], y[keep]
    area = float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1]))) + correction
    return unit(area / limit)

