"""The text-guided multimodal unified method as a benchkit detector: one model for every class of a dataset.

Per sample (paper section III and IV-A3): frozen RGB patch tokens (DINO ViT-B/8) upsampled bilinearly to the
feature grid and frozen Point-MAE features laid onto the pixel grid, aligned as CFM does
(`benchkit_components.feature_maps`). `benchkit_text_guided.network` maps RGB -> 3D (GACM), 3D -> RGB, and both into
the text space, where OCTA turns the class's normal-state prompt embeddings (a CLIP text encoder) into the class's
textual anchor. Training minimises the four alignment losses (eq. 9-11, weights 1) over the pixels with a valid 3D
point; a step whose gradients are not all finite is skipped (the paper's "validity check"; `skipped_steps_`
counts them). The class name of a sample selects its prompts, in training and at test time ("for the current sample
class", section III-D): the setting is ``unified`` (class-aware).

Scoring (eq. 12-16): Psi_rgb, Psi_3d and Psi_text = D(anchor, rgb->text) * D(anchor, 3d->text), combined as
alpha * Psi_rgb * Psi_3d + beta * Psi_text (alpha = beta = 0.5), zero at pixels without a valid point, then CFM's
box-filter smoothing, map over its mean non-zero value and image score max(map / sqrt(mean)), as CFM's inference.
CFM's filter widths are in pixels of its 224 x 224 maps: a map on a coarser feature grid (the weight-free variant's)
is upsampled bilinearly to ``smoothing_size`` = 224 first; filtering the 28 x 28 grid directly would blur over a
sixth of the image, wider than most defects.
D is the Euclidean distance; ``distance="normalized"`` (default) takes it between L2-normalised vectors as CFM
does, since the paper does not say and its losses only constrain directions; ``"euclidean"`` uses raw vectors.

Point-MAE groups: the paper's section IV-A3 says 1024 groups of 32 points (``point_group_size=32``, passed to the
point backbone; M3DM and CFM use 128); None leaves the backbone's own grouping (the weight-free FPFH has none).

The paper does not name its CLIP model: ``clip-text`` is the registered CLIP text backbone with its own default
checkpoint; ``text_backbone_params`` passes build options to it (e.g. ``{"model_name": ...}``).

Not in the paper, taken from CFM (the baseline it extends): Adam at lr 1e-3, 4 images per step, 50 epochs, MLP hidden
width (in + out) // 2 (``hidden_dim`` sets another). ``positions_per_image``: train on that many random valid
positions per image (seeded per epoch and image) instead of all, a CPU speed-up that changes the result (None, the
default, is the paper's).
Table VI's CPE and APG train with a contrastive loss (temperature 0.07, CLIP's) on synthetic anomalies
(`benchkit_text_guided.synthetic_anomalies`): pixels of a synthetic anomaly must be nearer the class's abnormal
anchor than its normal one, the other pixels the reverse; alignment losses use the normal pixels only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from benchkit import DataError, Detector, Prediction, Sample, build_backbone, rng
from benchkit_components.feature_maps import (
    sample_feature_rows,
    box_smooth,
    channel_statistics,
    normalized_map_and_score,
)

from .network import TextGuidedNet
from .prompts import PROMPT_SETS, anomalous_prompts, normal_prompts
from .synthetic_anomalies import with_synthetic_anomaly

DISTANCES = ("normalized", "euclidean")


class TextGuided(Detector):
    def __init__(self, backbone: str = "dino-vitb8", point_backbone: str = "point-mae-pixels",
                 text_backbone: str = "clip-text", text_backbone_params: dict | None = None,
                 point_group_size: int | None = 32, feature_size: int = 224, gacm: bool = True, octa: bool = True,
                 layer_pruning: bool = True, prompts: str = "oct", experts: int = 4, top_k: int = 2,
                 alpha: float = 0.5, beta: float = 0.5, distance: str = "normalized", v2g_weight: float = 1.0,
                 g2v_weight: float = 1.0, v2t_weight: float = 1.0, g2t_weight: float = 1.0,
                 temperature: float = 0.07, hidden_dim: int | None = None, epochs: int = 50, batch_size: int = 4,
                 lr: float = 1e-3, positions_per_image: int | None = None, smoothing_size: int = 224,
                 standardize: bool = False, feature_memory_mb: float = 4096.0, device: str = "cpu",
                 seed: int = 0) -> None:
        self.backbone = backbone
        self.point_backbone = point_backbone
        self.text_backbone = text_backbone
        self.text_backbone_params = text_backbone_params
        self.point_group_size = point_group_size
        self.feature_size = feature_size
        self.gacm = gacm
        self.octa = octa
        self.layer_pruning = layer_pruning
        self.prompts = prompts
        self.experts = experts
        self.top_k = top_k
        self.alpha = alpha
        self.beta = beta
        self.distance = distance
        self.v2g_weight = v2g_weight
        self.g2v_weight = g2v_weight
        self.v2t_weight = v2t_weight
        self.g2t_weight = g2t_weight
        self.temperature = temperature
        self.hidden_dim = hidden_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.positions_per_image = positions_per_image
        self.smoothing_size = smoothing_size
        self.standardize = standardize
        self.feature_memory_mb = feature_memory_mb
        self.device = device
        self.seed = seed

    def _validate(self) -> None:
        if self.prompts not in PROMPT_SETS:
            raise ValueError(f"text-guided: prompts must be one of {PROMPT_SETS}, got {self.prompts!r}")
        if self.distance not in DISTANCES:
            raise ValueError(f"text-guided: distance must be one of {DISTANCES}, got {self.distance!r}")

    @property
    def uses_text(self) -> bool:
        return self.prompts != "none"

    def backbone_names(self) -> list[str]:
        """The text encoder is built only when prompts are used: ``prompts="none"`` runs without CLIP weights."""
        names = [self.backbone, self.point_backbone]
        return names + [self.text_backbone] if self.uses_text else names

    @property
    def contrastive(self) -> bool:
        return self.prompts in ("cpe", "apg")

    # -- features ---------------------------------------------------------------------------------------------------
    def _feature_maps(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(S*S, D_rgb) and (S*S, D_3d) rows on the device and the (S*S,) valid mask of one sample."""
        return sample_feature_rows(self.rgb_backbone_, self.point_backbone_, sample, self.feature_size,
                                   device=self.device, method="the text-guided method")

    def _standardized(self, rgb: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.standardize:
            return rgb, points
        (rm, rs), (pm, ps) = self.scales_
        return (rgb - rm) / rs, (points - pm) / ps

    def _mask_rows(self, mask: np.ndarray) -> torch.Tensor:
        """A synthetic anomaly's (H, W) mask on the feature grid, as (S*S,) bool rows (adaptive max pooling)."""
        m = torch.as_tensor(mask, dtype=torch.float32)[None, None]
        return (F.adaptive_max_pool2d(m, (self.feature_size,) * 2)[0, 0] > 0).reshape(-1).to(self.device)

    def _embed(self, sentences: list[str]) -> torch.Tensor:
        emb = torch.as_tensor(np.asarray(self.text_backbone_.encode(sentences)), dtype=torch.float32)
        return F.normalize(emb, dim=-1).to(self.device)

    # -- training ---------------------------------------------------------------------------------------------------
    def fit(self, samples: Sequence[Sample]) -> TextGuided:
        self._validate()
        if len(samples) == 0:
            raise DataError(None, "no training samples", "check the dataset's train split")
        names = [s.category for s in samples]
        if any(c is None for c in names):
            raise DataError(None, "training samples carry no category; the text-guided method conditions its text "
                                  "on the class name", "run it in the 'unified' setting (class-aware)")
        self.categories_ = sorted(set(names))
        self.rgb_backbone_ = build_backbone(self.backbone)
        grouping = {} if self.point_group_size is None else {"group_size": self.point_group_size}
        self.point_backbone_ = build_backbone(self.point_backbone, **grouping)
        items = [(s, None) for s in samples]
        if self.contrastive:
            items += [with_synthetic_anomaly(s, self.seed) for s in samples]
        first = self._feature_maps(items[0][0])
        keep = (first[0].numel() + first[1].numel()) * 4 * len(items) <= self.feature_memory_mb * 2**20
        cache = [first] + [self._feature_maps(s) for s, _ in items[1:]] if keep else None
        if self.standardize:
            self.scales_ = channel_statistics(cache or (self._feature_maps(s) for s, _ in items))

        def load(i):
            rgb, points, valid = cache[i] if keep else self._feature_maps(items[i][0])
            rgb, points = self._standardized(rgb, points)
            sample, mask = items[i]
            anomalous = self._mask_rows(mask) & valid if mask is not None else torch.zeros_like(valid)
            return rgb, points, valid, anomalous, self.categories_.index(sample.category)

        text_dim = 1
        if self.uses_text:
            self.text_backbone_ = build_backbone(self.text_backbone, **(self.text_backbone_params or {}))
            self.normal_text_ = [self._embed(normal_prompts(c, self.prompts)) for c in self.categories_]
            self.abnormal_text_ = [self._embed(anomalous_prompts(c, self.prompts)) for c in self.categories_] \
                if self.contrastive else None
            text_dim = self.normal_text_[0].shape[1]
            self.text_backbone_ = None  # used in training only: anchors are precomputed for inference
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = TextGuidedNet(first[0].shape[1], first[1].shape[1], text_dim, gacm=self.gacm,
                                      octa=self.octa, pruned=self.layer_pruning, text=self.uses_text,
                                      experts=self.experts, top_k=self.top_k,
                                      hidden=self.hidden_dim).to(self.device)
            self._train(load, len(items))
        self.net_.eval().requires_grad_(False)
        with torch.no_grad():
            self.anchors_ = self.net_.anchors(self.normal_text_) if self.uses_text else None
        return self

    def _train(self, load, count: int) -> None:
        net = self.net_.train()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        order_rng = rng(self.seed, "text-guided", "order")
        self.skipped_steps_ = 0
        for epoch in range(self.epochs):
            order = order_rng.permutation(count)
            for start in range(0, count, self.batch_size):
                batch = [self._subsampled(load(int(i)), epoch, int(i)) for i in order[start:start + self.batch_size]]
                loss = self.loss(batch)
                opt.zero_grad()
                loss.backward()
                grads = [p.grad for p in net.parameters() if p.grad is not None]
                if not all(torch.isfinite(g).all() for g in grads):
                    self.skipped_steps_ += 1
                    continue
                opt.step()

    def _subsampled(self, item: tuple, epoch: int, index: int) -> tuple:
        """``positions_per_image`` random valid positions of one training image (all when None or fewer)."""
        valid = item[2]
        where = torch.nonzero(valid).squeeze(1)
        if self.positions_per_image is None or len(where) <= self.positions_per_image:
            return item
        pick = rng(self.seed, "text-guided", "positions", epoch, index).permutation(len(where))
        kept = torch.zeros_like(valid)
        kept[where[torch.as_tensor(pick[:self.positions_per_image], device=where.device)]] = True
        return item[:2] + (kept,) + item[3:]

    def loss(self, batch) -> torch.Tensor:
        """Eq. 11 (L_vis + L_text) over the batch's valid normal pixels, plus the contrastive term for CPE/APG."""
        rgb = torch.cat([b[0][b[2]] for b in batch])
        points = torch.cat([b[1][b[2]] for b in batch])
        anomalous = torch.cat([b[3][b[2]] for b in batch])
        classes = torch.cat([torch.full((int(b[2].sum()),), b[4], device=self.device) for b in batch])
        out = self.net_(rgb, points)
        weight = (~anomalous).float() / max(int((~anomalous).sum()), 1)  # a mean over normal pixels, no indexing

        def one_minus_cos(a, b):
            return ((1 - F.cosine_similarity(a, b, dim=-1, eps=1e-6)) * weight).sum()

        total = (self.v2g_weight * one_minus_cos(out["rgb_to_3d"], points)
                 + self.g2v_weight * one_minus_cos(out["points_to_rgb"], rgb))
        if self.uses_text:
            # each pixel's class anchor by a one-hot product: deterministic backward, unlike indexing's index-add
            onehot = F.one_hot(classes, len(self.categories_)).float()
            anchors = onehot @ self.net_.anchors(self.normal_text_)
            total = total + (self.v2t_weight * one_minus_cos(anchors, out["rgb_to_text"])
                             + self.g2t_weight * one_minus_cos(anchors, out["points_to_text"]))
            if self.contrastive:
                abnormal = onehot @ self.net_.anchors(self.abnormal_text_)
                target = anomalous.long()
                for projected in (out["rgb_to_text"], out["points_to_text"]):
                    logits = torch.stack([F.cosine_similarity(projected, anchors, dim=-1),
                                          F.cosine_similarity(projected, abnormal, dim=-1)], dim=-1)
                    total = total + F.cross_entropy(logits / self.temperature, target)
        return total

    # -- scoring ----------------------------------------------------------------------------------------------------
    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.distance == "normalized":
            a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        return (a - b).norm(dim=-1)

    def anomaly_maps(self, sample: Sample) -> dict[str, torch.Tensor]:
        """Psi_rgb, Psi_3d, Psi_text (when text is used) and the valid mask of one sample, each (S, S)."""
        if sample.category not in getattr(self, "categories_", ()):
            raise DataError(None, f"sample {sample.id!r} has category {sample.category!r}, which the model was not "
                                  f"trained on (trained on: {', '.join(self.categories_)})",
                            "the text-guided method needs the class name of every test sample (unified setting)")
        rgb, points, valid = self._feature_maps(sample)
        rgb, points = self._standardized(rgb, points)
        with torch.no_grad():
            out = self.net_(rgb, points)
            side = (self.feature_size, self.feature_size)
            maps = {"rgb": self._distance(rgb, out["points_to_rgb"]).reshape(side),
                    "3d": self._distance(points, out["rgb_to_3d"]).reshape(side), "valid": valid.reshape(side)}
            if self.uses_text:
                anchor = self.anchors_[self.categories_.index(sample.category)][None]
                maps["text"] = (self._distance(anchor, out["rgb_to_text"])
                                * self._distance(anchor, out["points_to_text"])).reshape(side)
        return maps

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        out = []
        for sample in samples:
            maps = self.anomaly_maps(sample)
            if self.uses_text:
                combined = self.alpha * maps["rgb"] * maps["3d"] + self.beta * maps["text"]
            else:
                combined = maps["rgb"] * maps["3d"]
            values, score = normalized_map_and_score(self._smoothed(combined, maps["valid"]))
            out.append(Prediction(score=score, map=values.cpu().numpy().astype(np.float32)))
        return out

    def _smoothed(self, values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """CFM's box filter, which its reference applies on 224 x 224 maps: a map on a coarser feature grid is first
        upsampled bilinearly to ``smoothing_size`` (invalid positions zero), so the filter keeps its width in pixels."""
        values = torch.where(valid, values, torch.zeros_like(values))
        if values.shape[-1] < self.smoothing_size:
            size = (self.smoothing_size,) * 2
            values = F.interpolate(values[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
            valid = F.interpolate(valid[None, None].float(), size=size, mode="nearest")[0, 0] > 0
            values = torch.where(valid, values, torch.zeros_like(values))
        return box_smooth(values)

    def torch_modules(self) -> list:
        modules = [self.net_] if hasattr(self, "net_") else []
        for name in ("rgb_backbone_", "point_backbone_"):
            if getattr(self, name, None) is not None:
                modules += getattr(self, name).torch_modules()
        return modules

