"""Small pictures of a few fixed test samples per job (input, ground truth, anomaly map) for the site's gallery.

Written by the scoring side of the harness (it holds the answers; a detector's process never sees ground truth),
beside the job's record: ``<record>.thumbs/`` with one PNG per picture and ``index.jsonl`` listing them. The samples
are chosen from the test references alone (per category, the first anomalous ones and the first normal one by id),
so every detector of a benchmark is pictured on the same samples and the gallery can set them side by side.

Pictures: organized scans show the RGB image (or the depth, when there is no colour), the ground-truth mask and
the map resized to the scan; unorganized clouds are drawn as a top view (x right, y up; nearer-to-viewer points
drawn last) coloured by height, by ground truth and by score. Each map is scaled to its own minimum and maximum,
so a picture shows where a detector looks, not how its scores compare with another detector's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.sample import ANOMALOUS, Sample, SampleRef

SIZE = 160  # longest side of a picture, in pixels
ANOMALOUS_PER_CATEGORY = 2
NORMAL_PER_CATEGORY = 1
INDEX = "index.jsonl"  # not *.json: a results folder's *.json files are records


def thumbnails_dir(record_path: str | Path) -> Path:
    """Where the pictures of the job whose record is ``record_path`` live."""
    return Path(record_path).with_suffix(".thumbs")


def pick(refs: Sequence[SampleRef]) -> list[int]:
    """Indices into ``refs`` of the pictured samples: per category, the first anomalous and normal ones by id."""
    chosen = []
    by_cat: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        by_cat.setdefault(ref.category, []).append(i)
    for cat in sorted(by_cat):
        idx = sorted(by_cat[cat], key=lambda i: refs[i].id)
        bad = [i for i in idx if refs[i].label == ANOMALOUS][:ANOMALOUS_PER_CATEGORY]
        good = [i for i in idx if refs[i].label is not None and refs[i].label != ANOMALOUS][:NORMAL_PER_CATEGORY]
        chosen += bad + good
    return chosen


def _colormap(values: np.ndarray, name: str) -> np.ndarray:
    from matplotlib import colormaps

    v = np.asarray(values, dtype=np.float64)
    lo, hi = (float(np.min(v)), float(np.max(v))) if v.size else (0.0, 1.0)
    unit = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    return (colormaps[name](unit)[..., :3] * 255).astype(np.uint8)


def _fit(image: np.ndarray, nearest: bool = False) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    scale = SIZE / max(h, w)
    pil = Image.fromarray(image)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(pil.resize(size, Image.NEAREST if nearest else Image.BILINEAR))


def _top_view(points: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """An orthographic top view of a cloud, each point one pixel (2x2), the highest drawn last."""
    canvas = np.full((SIZE, SIZE, 3), 255, np.uint8)
    xy = points[:, :2].astype(np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    px = ((xy - lo) / span * (SIZE - 3)).astype(int)
    px[:, 1] = SIZE - 3 - px[:, 1]
    order = np.argsort(points[:, 2], kind="stable")
    for dx in (0, 1):
        for dy in (0, 1):
            canvas[px[order, 1] + dy, px[order, 0] + dx] = colours[order]
    return canvas


def pictures(sample: Sample, values: np.ndarray) -> dict[str, np.ndarray]:
    """The input, ground-truth and map pictures (H x W x 3 uint8) of one answered sample and its anomaly map."""
    values = np.asarray(values, dtype=np.float32)
    gt = sample.gt if sample.gt is not None else np.zeros(sample.map_shape, np.uint8)
    if sample.organized:
        from benchkit.scoring import resize_map

        h, w = sample.map_shape
        if sample.rgb is not None:
            image = np.asarray(sample.rgb, dtype=np.uint8)
        else:
            depth = np.where(sample.valid, sample.xyz[..., 2], np.nan)
            image = _colormap(np.nan_to_num(depth, nan=float(np.nanmin(depth)) if np.any(sample.valid) else 0), "gray")
        mask = (np.asarray(gt) > 0).astype(np.uint8) * 255
        return {"input": _fit(image), "gt": _fit(np.stack([mask] * 3, axis=-1), nearest=True),
                "map": _fit(_colormap(resize_map(values, (h, w)), "inferno"))}
    pts = sample.point_cloud()
    grey = np.array([200, 200, 200], np.uint8)
    gt_col = np.where((np.asarray(gt) > 0)[:, None], np.array([220, 38, 38], np.uint8), grey)
    return {"input": _top_view(pts, _colormap(pts[:, 2], "viridis")), "gt": _top_view(pts, gt_col),
            "map": _top_view(pts, _colormap(values, "inferno"))}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "sample"


def write_thumbnails(folder: str | Path, items: Sequence[tuple[Sample, np.ndarray]]) -> Path:
    """Save the pictures of answered samples and their maps into ``folder``, replacing what was there. Written into
    a hidden temporary folder first and renamed into place, so ``folder`` is always complete (or absent)."""
    import shutil
    import tempfile

    from PIL import Image

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # left by a run killed while writing
        shutil.rmtree(stale, ignore_errors=True)
    final, folder = folder, Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    index = []
    for n, (sample, values) in enumerate(items):
        stem = f"{n:02d}-{_safe(sample.id)}"
        files = {}
        for kind, image in pictures(sample, values).items():
            files[kind] = f"{stem}--{kind}.png"
            # compress_level=1: 2.4x faster than optimize=True, about the same size
            Image.fromarray(image).save(folder / files[kind], compress_level=1)
        index.append({"id": sample.id, "category": sample.category, "label": sample.label,
                      "defect": sample.defect, "files": files})
    (folder / INDEX).write_text("".join(json.dumps(item) + "\n" for item in index))
    shutil.rmtree(final, ignore_errors=True)
    os.rename(folder, final)
    return final


def save_job_thumbnails(record_path: str | Path, dataset: Any, refs: Sequence[SampleRef],
                        maps: Sequence[np.ndarray]) -> Path | None:
    """The harness's call after scoring a job: picture the `pick`-ed test samples with their maps. Never raises: a
    picture that cannot be drawn must not fail a scored job (returns None then)."""
    try:
        chosen = pick(refs)
        return write_thumbnails(thumbnails_dir(record_path), [(dataset.load(refs[i]), maps[i]) for i in chosen])
    except Exception:  # noqa: BLE001 - pictures are a courtesy; the record is what counts
        return None


def thumbnails_of(record_path: str | Path) -> list[dict[str, Any]]:
    """The pictures saved for a job: [{"id", "category", "label", "defect", "files": {kind: Path}}], [] if none."""
    folder = thumbnails_dir(record_path)
    try:
        index = [json.loads(line) for line in (folder / INDEX).read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []
    out = []
    for item in index:
        if not isinstance(item, dict):
            continue
        files = {k: folder / v for k, v in item.get("files", {}).items()
                 if isinstance(v, str) and "/" not in v and (folder / v).is_file()}
        if files:
            out.append({**item, "files": files})
    return out
