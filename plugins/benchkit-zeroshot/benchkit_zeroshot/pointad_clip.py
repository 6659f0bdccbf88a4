"""``pointad-clip``: PointAD's multi-view pipeline with CLIP's own text prompts instead of learned ones.

PointAD (Zhou et al., NeurIPS 2024; zqhang/PointAD) renders a cloud to 9 views, scores CLIP patch tokens against
normal/abnormal text embeddings, projects the 2-D maps back to the points and averages them over the views that
see each point. Its prompts and DPAM attention are learned on auxiliary data; this baseline keeps everything else
and uses WinCLIP's fixed prompt ensemble for "object" (object-agnostic, as PointAD's prompts), so it needs no
training at all, only CLIP weights:

- Points: an organized scan is resized to 336 x 336 (nearest) and its valid points rendered with PointAD's flip;
  an unorganized cloud is rendered as is (at most ``max_points`` of it, a seeded subsample; PointAD takes 336^2
  points by FPS on Real3D-AD). Views: ``views="auto"`` is PointAD's MVTec 3D-AD set for organized scans and its
  Real3D-AD set for clouds (`benchkit_components.rendering.POINTAD_VIEWS`). Background: PointAD renders MVTec
  3D-AD after removing the supporting plane and stray clusters (multi_view/preprocess_mvtec3d.py), so
  ``background="remove"`` does that to organized scans (``"keep"`` renders the plane too). Splats: PointAD's screen-aligned
  squares (``splats="square"``); ``splats="tangent"`` is benchkit's renderer for sparse clouds, through which the
  back of a 3,000-point cloud no longer shows (`benchkit_components.rendering`).
- Patch probability: softmax over (normal, anomalous) of cosine similarities / ``temperature`` (0.07), bilinearly
  upsampled to the rendering size, back-projected to points.
- Map: organized scans go back onto the 336 grid and get PointAD's Gaussian blur (sigma 4); clouds average each
  point with its ``smooth_k`` neighbours. Score: PointAD's 0.5 max(map) + 0.5 mean over views of the global
  (pooled image embedding) anomalous probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from benchkit import Detector, Prediction, Sample, build_backbone


def text_directions(text, object_name: str):
    """(2, D) unit vectors of the normal and anomalous prompt ensembles (mean embedding, then normalised)."""
    from benchkit_components.prompts import sentences

    out = []
    for group in sentences(object_name):
        mean = text.encode(group).mean(axis=0)
        out.append(mean / np.linalg.norm(mean))
    return np.stack(out).astype(np.float32)


def anomalous_probability(features: np.ndarray, directions: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax over (normal, anomalous) of cosine similarities / temperature; the anomalous share, shape [...]."""
    unit = features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-12)
    logits = unit @ directions.T / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return (e[..., 1] / e.sum(axis=-1)).astype(np.float32)


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """(V, h, w) -> (V, size, size), bilinear (align_corners=False, as torch's F.interpolate)."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


class PointADCLIP(Detector):
    def __init__(self, views: str = "auto", object_name: str = "object", temperature: float = 0.07,
                 max_points: int | None = 20000, sigma: float = 4.0, smooth_k: int = 16,
                 clip_model: str | None = None, backbone: str = "clip-image", splats: str = "square",
                 background: str = "remove", seed: int = 0, device: str = "cpu") -> None:
        self.views = views
        self.background = background
        self.splats = splats
        self.object_name = object_name
        self.temperature = temperature
        self.max_points = max_points
        self.sigma = sigma
        self.smooth_k = smooth_k
        self.clip_model = clip_model
        self.backbone = backbone
        self.seed = seed
        self.device = device

    def _backbones(self) -> None:
        if self.backbone != "clip-image":
            raise ValueError(f"pointad-clip compares image and text embeddings of one CLIP model; backbone must be "
                             f"clip-image (got {self.backbone!r})")
        params: dict[str, Any] = {} if self.clip_model is None else {"model_name": self.clip_model}
        self.image_ = build_backbone("clip-image", **params)
        self.text_ = build_backbone("clip-text", **params)

    def fit(self, samples: Sequence[Sample]) -> PointADCLIP:
        if self.background not in ("keep", "remove"):
            raise ValueError(f"background must be 'keep' or 'remove', got {self.background!r}")
        self._backbones()  # training-free: the training samples are not read
        self.directions_ = text_directions(self.text_, self.object_name)
        return self

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        from benchkit_components.rendering import anomaly_map, render_sample

        out = []
        size = self.image_.image_size
        for sample in samples:
            views, placement = render_sample(sample, self.views, max_points=self.max_points, seed=self.seed,
                                             image_size=size, splats=self.splats, background=self.background)
            rgb = views.rgb()
            tokens, pooled = self.image_.encode_all(rgb)
            patch = upsample(anomalous_probability(tokens, self.directions_, self.temperature), size)
            values = views.back_project(patch)
            global_prob = float(anomalous_probability(pooled, self.directions_, self.temperature).mean())
            amap = anomaly_map(sample, placement, values, smooth_k=self.smooth_k, sigma=self.sigma)
            out.append(Prediction(0.5 * float(amap.max()) + 0.5 * global_prob, amap))
        return out

    def torch_modules(self) -> list[Any]:
        return self.image_.torch_modules() if hasattr(self, "image_") else []
