"""Align3D-AD (seed paper: "Align3D-AD: Cross-Modal Feature Alignment and Dual-Prompt Learning for Zero-shot 3D
Anomaly Detection"; abstract and review only, no code). What the abstract fixes, and the simplest reading of the
rest (each alternative a switch):

- Renderings (PointAD's views, tangent splats: `benchkit_components.rendering.render_sample`) are encoded by an
  image backbone (default CLIP ViT-L/14@336, ``clip-image``; the weight-free variant ``align3d-ad:hog``). A point's
  *rendering feature* is its patch token averaged over the views that see it.
- Stage 1, cross-modal alignment: on the auxiliary training samples that have RGB registered with their geometry
  (organized scans), an MLP maps each point's rendering feature to the RGB backbone feature of the same point
  (the patch of the sample's RGB image at the point's pixel), minimising ``1 - cos``. Semantic consistency
  reweighting (``reweighting="consistency"``; "none" switches it off): a point's loss is weighted by
  ``(1 + cos(g_i, g_mean)) / 2``, the agreement of its RGB feature with the object's mean RGB feature (the
  holistic semantics), normalised to mean 1, so regions unlike the object as a whole (background, specular spots)
  steer the mapping less. Without RGB in the training samples (Real3D-AD, synthetic-pc) stage 1 is skipped and only
  the rendering branch runs (``alignment_trained_`` is False).
- Stage 2, modality-aware dual prompts: two learnable (normal, anomalous) prompt pairs, one for rendering features
  and one for RGB-aligned features, each an embedding in the feature space (initialised from CLIP's text
  embeddings of "a photo of a flawless/damaged object." when the backbone is ``clip-image``, seeded random
  otherwise; learning context tokens through the text encoder, AnomalyCLIP-style, is the alternative reading not
  built here). Trained on synthetic bumps and dents of the auxiliary samples (`benchkit_align3d.anomalies`) with a
  class-balanced cross-entropy per branch over softmax(cos(feature, prompts) / temperature), plus the dual-prompt
  contrastive alignment (weight ``dual_contrast_weight``): InfoNCE that pulls each state's two prompts together and
  pushes the other state's apart (where the rendering features have channels the RGB features lack, the weight-free
  variant's relief, the rendering prompts are carried to the RGB space by the stage-1 network first).
- The weight-free variant ``align3d-ad:hog``: ``relief`` and ``standardize`` ("auto": on and "object" for a
  backbone without weights, off and "none" for CLIP) add the renderings' depth relief to each point's feature
  (`benchkit_align3d.relief`) and standardise each channel over the point's own object (`standardize_over_object`),
  so that prompts learned on one category could carry over to another. Why: the variant scored at chance in
  zero-shot-one-vs-rest (object AUROC 0.42-0.54 on synthetic-pc, 0.39-0.58 on synthetic-rgbd). Offline checks
  (logistic regression on back-projected features as a stand-in for the prompts): HOG tokens of the shaded
  renderings separate points of held-out categories at point AUROC 0.53-0.73 (splat speckle dominates the
  gradients; 16-pixel cells are coarser than the defects); and the synthetic bumps, then sized by the bounding box,
  covered about 7 % of a synthetic-rgbd scan (its background plane fills the box), several times a real defect,
  which is why they are now sized by a share of the points (`benchkit_align3d.anomalies`). Measured after these
  changes (benchkit run, zero-shot-one-vs-rest, seed 0; mean object / point AUROC over the tested categories):
  synthetic-pc trained on soap 0.52 / 0.47, starfish 0.62 / 0.44, blob 0.46 / 0.48 (torus 0.14-0.50 in all
  three); synthetic-rgbd trained on cookie 0.44 / 0.52, fruit 0.41 / 0.66, cable 0.62 / 0.39. Why, as far as
  measured: the renderer's squares, two point spacings wide, left gaps through which the back of a sparse cloud
  showed (about a third of a synthetic-pc object's pixels), and that speckle swamped shading and depth; the
  back-projected |relief| alone then separated defect points at point AUROC 0.46-0.70 by defect kind (best scale).
  The renderer now lays wider splats in each point's tangent plane (`benchkit_components.rendering`,
  ``splats="tangent"``): renderings close, and the |relief| alone separates defect points at 0.52 (starfish, torus)
  to 0.75 (blob) per category (best scale); the mean of the top 1 % of its robust z-score norm, an object score with
  no learning, reaches object AUROC 0.47 (torus), 0.50 (soap), 0.81 (blob) and 0.86 (can). Measured after that
  change (same runs): synthetic-pc trained on soap 0.72 / 0.53,
  starfish 0.59 / 0.51, blob 0.58 / 0.57 (relief only, ``appearance="off"``: 0.64, 0.62, 0.59); synthetic-rgbd
  trained on cable 0.45 / 0.55, cookie 0.43 / 0.59, fruit 0.44 / 0.65 (relief only: 0.38-0.49 object, 0.71-0.73
  point AUROC: its maps find the defects, but the map's maximum, or the mean of its top 1 %, does not rank the
  scans). What changed that: the scans' background plane. With the plane removed, the no-learning score (the
  maximum of the blurred map of the relief's z-score norm) reaches object AUROC 0.58 (cookie) to 0.94 (cable),
  mean 0.74 over the five categories; with the plane it is 0.60 (0.39-0.86). PointAD renders MVTec 3D-AD only after
  removing the plane and stray clusters (zqhang/PointAD, multi_view/preprocess_mvtec3d.py), so ``background``
  ("remove", the default; "keep" renders the plane) does that to organized scans before rendering
  (`benchkit_components.rendering.render_sample`). And the shaded renderings' HOG tokens, added to the relief,
  lowered the object AUROC (synthetic-rgbd, plane removed, seed 0: 0.44-0.50 with them, 0.60-0.83 without), so
  ``appearance`` ("auto": off for a backbone without weights, on for CLIP) leaves them out of the weight-free
  variant's rendering features; its HOG still encodes the RGB images that stage 1 aligns to. Measured with these
  defaults (``benchkit run --detector align3d-ad:hog --setting zero-shot-one-vs-rest --seeds 0,1,2``; mean object
  AUROC over the tested categories, per training category, seeds 0 / 1 / 2): synthetic-rgbd trained on cable
  0.66 / 0.51 / 0.49, cookie 0.65 / 0.73 / 0.61, fruit 0.69 / 0.62 / 0.62 (mean 0.62; point AUROC 0.82-0.88);
  synthetic-pc trained on blob 0.59 / 0.54 / 0.50, soap 0.64 / 0.57 / 0.54, starfish 0.62 / 0.56 / 0.53 (mean
  0.57; point AUROC 0.38-0.55). Above chance on both, far below the training-free ``zs-fpfh-rarity`` (0.72-0.76
  and 0.81-0.86, seed 0) and ``zs-surface-deviation`` (0.58-0.67 and 0.64-0.69). Not better, so not the default:
  ``relief="magnitude"`` (mean 0.61 and 0.47) and 2,000 prompt epochs instead of 200 (synthetic-pc mean 0.57).
  On synthetic-pc the same no-learning score is 0.81-0.83 on blob and can but 0.08-0.47 on cone, starfish and
  torus, where normal clouds reach higher relief maxima than defective ones; the learned prompts do not get past
  that. The variant stays out of ``run --all`` for time: its six one-vs-rest jobs take about 3 CPU
  minutes (fit 5-11 s, predict 15-27 s per job), which the run's 10-minute budget on 2 cores does not have.
- Inference, with no target training sample: a point's score is the anomalous probability of the rendering branch
  averaged with the aligned branch's; maps as PointAD (grid + Gaussian sigma 4 for scans, neighbour smoothing for
  clouds), object score the map's maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from benchkit import Detector, Prediction, Sample, build_backbone, rng


def standardize_over_object(feats: np.ndarray) -> np.ndarray:
    """Each channel as robust z-scores over the object's points (median, 1.4826 x MAD), then a constant channel of
    1: a point typical of its object sits near the pole (0, ..., 0, 1) whatever the category, and the cosine with
    a prompt, which ignores length, still sees how far a point departs from its object."""
    median = np.median(feats, axis=0)
    spread = 1.4826 * np.median(np.abs(feats - median), axis=0) + 1e-6
    z = (feats - median) / spread
    return np.concatenate([z, np.ones((len(z), 1), z.dtype)], axis=1).astype(np.float32)


class Align3DAD(Detector):
    def __init__(self, backbone: str = "clip-image", views: str = "auto", max_points: int | None = 8000,
                 max_train_samples: int = 4, anomalies_per_sample: int = 2, train_points: int = 2048,
                 align_epochs: int = 100, prompt_epochs: int = 200, lr: float = 1e-3, temperature: float = 0.07,
                 reweighting: str = "consistency", dual_contrast_weight: float = 1.0, sigma: float = 4.0,
                 smooth_k: int = 16, relief: str = "auto", standardize: str = "auto", appearance: str = "auto",
                 background: str = "remove", clip_model: str | None = None, seed: int = 0,
                 device: str = "cpu") -> None:
        self.backbone = backbone
        self.views = views
        self.max_points = max_points
        self.max_train_samples = max_train_samples
        self.anomalies_per_sample = anomalies_per_sample
        self.train_points = train_points
        self.align_epochs = align_epochs
        self.prompt_epochs = prompt_epochs
        self.lr = lr
        self.temperature = temperature
        self.reweighting = reweighting
        self.dual_contrast_weight = dual_contrast_weight
        self.sigma = sigma
        self.smooth_k = smooth_k
        self.relief = relief
        self.standardize = standardize
        self.appearance = appearance
        self.background = background
        self.clip_model = clip_model
        self.seed = seed
        self.device = device

    # -- features -------------------------------------------------------------------------------------------------
    def _render(self, sample: Sample):
        """(Views, Placement) of a sample."""
        from benchkit_components.rendering import render_sample

        return render_sample(sample, self.views, max_points=self.max_points, seed=self.seed, image_size=self.size_,
                             background=self.background)

    def _render_points(self, sample: Sample, points: np.ndarray):
        """Views of ``points`` in place of the sample's rendered points (a deformed copy), from the same cameras."""
        from benchkit_components.rendering import render_views, sample_views

        return render_views(points, sample_views(sample, self.views), image_size=self.size_,
                            flip_x=sample.xyz is not None)

    def _rendering_features(self, views) -> np.ndarray:
        """(N, D) per rendered point: its patch token (plus depth relief) averaged over the views that see it,
        standardised over the object when `standardize` says so."""
        from benchkit_align3d.relief import depth_relief

        parts = []
        if self.appearance_:
            parts.append(views.back_project(np.asarray(self.image_.encode(views.rgb()), dtype=np.float32)))
        if self.relief_:
            relief = depth_relief(views.depth)
            parts.append(views.back_project(np.abs(relief) if self.relief == "magnitude" else relief))
        feats = np.concatenate(parts, axis=1)
        if self.standardize_ == "object":
            feats = standardize_over_object(feats)
        return feats

    def _rgb_features(self, sample: Sample, placement) -> np.ndarray:
        """The RGB backbone feature at each rendered point's pixel of the scan."""
        tokens = np.asarray(self.image_.encode(sample.rgb), dtype=np.float32)
        h, w = tokens.shape[:2]
        grid_h, grid_w = placement.grid_shape
        flat = placement.grid_flat[placement.chosen]
        return tokens[(flat // grid_w) * h // grid_h, (flat % grid_w) * w // grid_w]

    # -- fit ------------------------------------------------------------------------------------------------------
    def fit(self, samples: Sequence[Sample]) -> Align3DAD:
        import torch

        from benchkit_align3d.anomalies import bump_or_dent

        for name, allowed in (("reweighting", ("consistency", "none")),
                              ("relief", ("auto", "on", "magnitude", "off")),
                              ("standardize", ("auto", "object", "none")), ("appearance", ("auto", "on", "off")),
                              ("background", ("remove", "keep"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        params: dict[str, Any] = {} if self.clip_model is None else {"model_name": self.clip_model}
        self.image_ = build_backbone(self.backbone, **(params if self.backbone == "clip-image" else {}))
        weight_free = getattr(self.image_, "weights", None) == "none"
        self.relief_ = self.relief in ("on", "magnitude") or (self.relief == "auto" and weight_free)
        self.appearance_ = self.appearance == "on" or (self.appearance == "auto" and not weight_free)
        if not (self.appearance_ or self.relief_):
            raise ValueError("appearance off and relief off leave no rendering feature: set relief to 'on' or "
                             "'magnitude', or appearance to 'on'")
        self.standardize_ = self.standardize if self.standardize != "auto" else ("object" if weight_free else "none")
        self.size_ = int(getattr(self.image_, "image_size", 224))
        generator = rng(self.seed, "align3d-ad")
        torch.manual_seed(int(generator.integers(2**31)))
        chosen = sorted(generator.choice(len(samples), size=min(self.max_train_samples, len(samples)), replace=False))
        pairs, labelled = [], []
        for i in chosen:
            sample = samples[int(i)]
            views, placement = self._render(sample)
            render = self._rendering_features(views)
            if sample.rgb is not None and placement.grid_shape is not None:
                pairs.append((render, self._rgb_features(sample, placement)))
            rendered = placement.points[placement.chosen]
            for _ in range(self.anomalies_per_sample):
                deformed, mask = bump_or_dent(rendered, generator)
                labelled.append((self._rendering_features(self._render_points(sample, deformed)), mask))
        dim = labelled[0][0].shape[1] if labelled else pairs[0][0].shape[1]
        self.align_ = self._train_alignment(pairs, dim, generator) if pairs else None
        self.alignment_trained_ = self.align_ is not None
        self.prompts_ = self._train_prompts(labelled, generator)
        return self

    def _train_alignment(self, pairs, dim: int, generator):
        import torch

        render = torch.from_numpy(np.concatenate([p[0] for p in pairs]))
        target = torch.from_numpy(np.concatenate([p[1] for p in pairs]))
        weights = torch.ones(len(render))
        if self.reweighting == "consistency":
            parts = []
            for _, g in pairs:
                g = torch.from_numpy(g)
                parts.append((1 + torch.cosine_similarity(g, g.mean(0, keepdim=True), dim=1)) / 2)
            weights = torch.cat(parts)
            weights = weights / weights.mean().clamp_min(1e-8)
        net = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.GELU(), torch.nn.Linear(dim, target.shape[1]))
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        for _ in range(self.align_epochs):
            idx = torch.from_numpy(generator.choice(len(render), size=min(len(render), 4096), replace=False))
            loss = ((1 - torch.cosine_similarity(net(render[idx]), target[idx], dim=1)) * weights[idx]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return net.eval()

    def _initial_prompts(self, dim: int):
        import torch

        if self.backbone == "clip-image":
            params = {} if self.clip_model is None else {"model_name": self.clip_model}
            text = build_backbone("clip-text", **params)
            return torch.from_numpy(text.encode(["a photo of a flawless object.", "a photo of a damaged object."]))
        return torch.randn(2, dim)

    def _train_prompts(self, labelled, generator):
        import torch
        import torch.nn.functional as F

        feats = torch.from_numpy(np.concatenate([f for f, _ in labelled]))
        labels = torch.from_numpy(np.concatenate([m for _, m in labelled]).astype(np.int64))
        branches = {"render": feats}
        if self.align_ is not None:
            with torch.no_grad():
                branches["aligned"] = self.align_(feats)
        start: dict[int, Any] = {}  # one initialisation per feature width, shared by branches of equal width
        for x in branches.values():
            start.setdefault(x.shape[1], self._initial_prompts(x.shape[1]))
        prompts = {k: torch.nn.Parameter(start[x.shape[1]].clone().float()) for k, x in branches.items()}
        counts = torch.bincount(labels, minlength=2).clamp_min(1).float()
        class_weight = counts.sum() / (2 * counts)
        optimizer = torch.optim.Adam(prompts.values(), lr=self.lr)
        for _ in range(self.prompt_epochs):
            idx = torch.from_numpy(generator.choice(len(labels), size=min(len(labels), self.train_points * 4),
                                                    replace=False))
            loss = sum(F.cross_entropy(self._logits(x[idx], prompts[k]), labels[idx], weight=class_weight)
                       for k, x in branches.items())
            if len(prompts) == 2 and self.dual_contrast_weight:
                render = prompts["render"]
                if render.shape[1] != prompts["aligned"].shape[1]:  # relief channels: carry to the RGB space
                    render = self.align_(render)
                sim = F.normalize(render, dim=1) @ F.normalize(prompts["aligned"], dim=1).T
                states = torch.arange(2)
                loss = loss + self.dual_contrast_weight * 0.5 * (
                    F.cross_entropy(sim / self.temperature, states) + F.cross_entropy(sim.T / self.temperature, states))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return {k: v.detach() for k, v in prompts.items()}

    def _logits(self, features, prompts):
        import torch.nn.functional as F

        return F.normalize(features, dim=1) @ F.normalize(prompts, dim=1).T / self.temperature

    # -- predict --------------------------------------------------------------------------------------------------
    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        import torch

        from benchkit_components.rendering import anomaly_map

        out = []
        for sample in samples:
            views, placement = self._render(sample)
            feats = torch.from_numpy(self._rendering_features(views))
            with torch.no_grad():
                prob = self._logits(feats, self.prompts_["render"]).softmax(dim=1)[:, 1]
                if self.align_ is not None:
                    aligned = self._logits(self.align_(feats), self.prompts_["aligned"]).softmax(dim=1)[:, 1]
                    prob = (prob + aligned) / 2
            amap = anomaly_map(sample, placement, prob.numpy(), smooth_k=self.smooth_k, sigma=self.sigma)
            out.append(Prediction(float(amap.max()), amap))
        return out

    def torch_modules(self) -> list[Any]:
        modules = list(self.image_.torch_modules()) if hasattr(self, "image_") else []
        return modules + ([self.align_] if getattr(self, "align_", None) is not None else [])
