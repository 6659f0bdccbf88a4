"""M3DM (Wang et al., "Multimodal Industrial Anomaly Detection via Hybrid Fusion", CVPR 2023; nomewang/M3DM).

Frozen features (through the feature cache): RGB patch tokens of the 224 x 224 image (DINO ViT-B/8, 28 x 28 x 768)
and point features laid onto the pixel grid and pooled to 56 x 56 (Point-MAE, 1152-d). Per class:

- **Memory banks** (PatchCore): an ``xyz`` bank of every training 56 x 56 point patch and an ``rgb`` bank of every
  28 x 28 RGB patch, each standardised by its own scalar mean and std and reduced to a greedy coreset of 10 %
  (sparse random projection, eps 0.9, k-center greedy from index 0). Point patches with no point under them (all
  zero) are left out of the coreset and one zero row is added back, so background matches background (the
  reference's ``rm_zero_for_project``; it drops rows with *any* zero, which would drop most rows of histogram
  features such as FPFH, so benchkit drops all-zero rows).
- **Scores per bank**: each patch's distance to its nearest bank entry; the image score is the largest, re-weighted
  as PatchCore (3 neighbours); the map is the distance grid upsampled bilinearly to 224 and blurred (sigma 4).
- **Decision layer fusion** (``modality="both"``): two linear one-class SVMs (scikit-learn ``SGDOneClassSVM``,
  nu 0.5, 1000 iterations) fitted on a second pass over the same training images: ``detect_fuser`` on per-image
  vectors [1.0 s_xyz, 0.1 s_rgb], ``seg_fuser`` on per-pixel vectors of the two maps with the same weights; their
  ``score_samples`` are the image score and map (a linear SVM's score grows with the distances it is fitted on, so
  the reference uses it as the anomaly score directly).
- **UFF** (unsupervised feature fusion, the paper's third bank, ``uff=True``) is **off by default**, as
  reproductions run M3DM: the CFM authors reproduced it "by simply deactivating the UFF module"
  (CVLAB-Unibo/crossmodal-feature-mapping issue 10) and users report UFF makes results worse (nomewang/M3DM issue
  36). With ``uff=True`` a ``FeatureFusionBlock`` (``uff.py``) is trained contrastively on the training images'
  point patches and the RGB patches brought to the 56 x 56 grid; a third bank of its 1920-d fused patches is
  standardised and coresetted like the others, and both fusers take [1.0 s_xyz, 0.1 s_rgb, 1.0 s_fusion]
  (``fusion_lambda``; the reference's ``TripleFeatures``). The reference pre-trains UFF once, in a separate stage,
  on the training sets of all classes together; benchkit trains it in ``fit`` on the job's own training samples
  (one model per class), because a one-class job must not see other classes' data. The ``uff_*`` parameters are
  the reference's training recipe (``uff.UFFTraining``); ``uff_patches_per_image`` is a CPU speed-up that changes
  the result (None, the default, is the reference).
- ``modality="rgb"`` / ``"xyz"``: one bank, its re-weighted score and blurred map (the paper's single-modality
  rows; the reference's ``DINO`` and ``Point_MAE`` methods, whose point bank is not standardised).

Quirks of the reference, each off by default (the paper's intent) and a switch here:
``quirk_bank_stats`` (``DoubleRGBPointFeatures.run_coreset``: both stds from the rgb bank, both means from the xyz
bank), ``quirk_coreset_sizes`` (the rgb coreset has 10 % of the *xyz coreset's* size), ``quirk_score_scale`` (image
score and re-weighting distances divided by 1000, which makes the re-weighting a near-constant 1/2),
``uff_quirk_pairing`` (UFF trained on the reference's misaligned RGB / point pairs, see ``uff.py``; the bank always
fuses aligned patches, as the reference's test-time ``resize2``), and
``train_mode`` (backbones left in training mode, since the reference never calls ``.eval()``; passed to the RGB
backbone; the registered Point-MAE has no dropout and is always in eval mode, so its BatchNorm keeps running
statistics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchkit import Detector, Prediction, Sample, build_backbone, cached_features, rng

IMAGE_SIZE = 224
POINT_GRID = 56  # M3DM's AdaptiveAvgPool2d((56, 56))
MODALITIES = ("both", "rgb", "xyz")


@dataclass
class PatchBank:
    """A standardised memory bank: (patch - mean) / std, searched exactly with faiss."""

    bank: Any  # benchkit_components.neighbours.NearestNeighbors
    mean: float
    std: float
    scaled: Any = None  # the bank / 1000 for quirk_score_scale

    def score(self, patches: np.ndarray, grid: tuple[int, int], *, n_reweight: int, sigma: float,
              score_scale: float = 1.0) -> tuple[float, np.ndarray]:
        """(re-weighted image score, 224 x 224 map) of one image's patches."""
        from benchkit_components.memory_bank import reweighted_image_score
        from benchkit_components.score_maps import upsample_and_blur

        queries = (patches - self.mean) / self.std
        squared, index = self.bank.search(queries, k=1)
        distances = np.sqrt(squared[:, 0])
        if score_scale == 1.0:
            score = reweighted_image_score(queries, self.bank, distances, index[:, 0], n_reweight)
        else:
            score = reweighted_image_score(queries / score_scale, self.scaled, distances / score_scale, index[:, 0],
                                           n_reweight)
        return float(score), upsample_and_blur(distances.reshape(grid), IMAGE_SIZE, sigma)

    @property
    def nbytes(self) -> int:
        return self.bank.nbytes + (self.scaled.nbytes if self.scaled is not None else 0)


def build_bank(patches: np.ndarray, mean: float, std: float, size: int, *, eps: float, seed: int, device: str,
               keep_zero_row: bool = False, quirk_scale: bool = False) -> PatchBank:
    """Standardise, select a greedy coreset of ``size`` rows (``size >= len``: every row), index with faiss."""
    from benchkit_components.memory_bank import greedy_coreset, reduce_for_coreset
    from benchkit_components.neighbours import NearestNeighbors

    if keep_zero_row:
        patches = patches[np.any(patches != 0, axis=1)]
    patches = (patches - mean) / std
    zero = (np.zeros((1, patches.shape[1]), np.float32) - mean) / std  # an all-zero patch, standardised
    if len(patches) and size < len(patches):
        patches = patches[greedy_coreset(reduce_for_coreset(patches, eps, seed), max(1, size), device=device)]
    if keep_zero_row or len(patches) == 0:
        patches = np.concatenate([patches, zero])
    patches = patches.astype(np.float32)
    return PatchBank(NearestNeighbors(patches), mean, std, NearestNeighbors(patches / 1000.0) if quirk_scale else None)


class M3DM(Detector):
    """M3DM with decision-layer fusion over an RGB and a point memory bank (see the module docstring).

    ``backbone``: the RGB backbone (kind image-patches), ``point_backbone``: the geometry backbone (kind
    pixel-features). ``modality``: "both", "rgb" or "xyz". ``max_train_samples``: M3DM's ``max_sample`` cap.
    ``uff``: add the trained fusion bank (off by default); ``uff_losses_`` holds its mean loss per epoch.
    """

    def __init__(self, backbone: str = "dino-vitb8", point_backbone: str = "point-mae-pixels", modality: str = "both",
                 coreset_fraction: float = 0.1, coreset_eps: float = 0.9, n_reweight: int = 3, blur_sigma: float = 4.0,
                 xyz_lambda: float = 1.0, rgb_lambda: float = 0.1, ocsvm_nu: float = 0.5, ocsvm_max_iter: int = 1000,
                 max_train_samples: int = 400, quirk_bank_stats: bool = False, quirk_coreset_sizes: bool = False,
                 quirk_score_scale: bool = False, train_mode: bool = False, uff: bool = False,
                 fusion_lambda: float = 1.0, uff_epochs: int = 3, uff_batch_size: int = 16, uff_accum_iter: int = 16,
                 uff_lr: float = 0.003, uff_warmup_epochs: int = 1, uff_weight_decay: float = 0.01,
                 uff_patches_per_image: int | None = None, uff_quirk_pairing: bool = False, seed: int = 0,
                 device: str = "cpu") -> None:
        self.backbone = backbone
        self.point_backbone = point_backbone
        self.modality = modality
        self.coreset_fraction = coreset_fraction
        self.coreset_eps = coreset_eps
        self.n_reweight = n_reweight
        self.blur_sigma = blur_sigma
        self.xyz_lambda = xyz_lambda
        self.rgb_lambda = rgb_lambda
        self.ocsvm_nu = ocsvm_nu
        self.ocsvm_max_iter = ocsvm_max_iter
        self.max_train_samples = max_train_samples
        self.quirk_bank_stats = quirk_bank_stats
        self.quirk_coreset_sizes = quirk_coreset_sizes
        self.quirk_score_scale = quirk_score_scale
        self.train_mode = train_mode
        self.uff = uff
        self.fusion_lambda = fusion_lambda
        self.uff_epochs = uff_epochs
        self.uff_batch_size = uff_batch_size
        self.uff_accum_iter = uff_accum_iter
        self.uff_lr = uff_lr
        self.uff_warmup_epochs = uff_warmup_epochs
        self.uff_weight_decay = uff_weight_decay
        self.uff_patches_per_image = uff_patches_per_image
        self.uff_quirk_pairing = uff_quirk_pairing
        self.seed = seed
        self.device = device

    # -- features ---------------------------------------------------------------------------------------------------
    def _uses(self, modality: str) -> bool:
        return self.modality in ("both", modality)

    def backbone_names(self) -> list[str]:
        """Only the backbones of the modalities in use: ``m3dm-rgb`` runs without Point-MAE weights."""
        used = ((self.backbone, "rgb"), (self.point_backbone, "xyz"))
        return [name for name, modality in used if self._uses(modality)]

    def _features(self, sample: Sample) -> dict[str, np.ndarray]:
        """{"rgb": (784, D1) patches, "xyz": (3136, D2) patches} of one sample, for the modalities in use."""
        out = {}
        if self._uses("rgb"):
            if sample.rgb is None:
                raise ValueError(f"M3DM ({self.modality}) needs RGB; sample {sample.id} has none")
            tokens = cached_features(self.rgb_, sample.rgb)
            out["rgb"] = tokens.reshape(-1, tokens.shape[-1])
        if self._uses("xyz"):
            if sample.xyz is None:
                raise ValueError(f"M3DM ({self.modality}) needs an organized point cloud; sample {sample.id} has none")
            grid = cached_features(self.points_, sample.xyz, sample.valid, pool=POINT_GRID)
            out["xyz"] = grid.reshape(-1, grid.shape[-1])
        if hasattr(self, "fusion_"):
            out["fusion"] = self._fused_patches(out)
        return out

    def _fused_patches(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """(3136, d_xyz + d_rgb) UFF patches: the point patches fused with the aligned RGB patches above them."""
        import torch

        from .uff import pair_rgb_with_points

        rgb = pair_rgb_with_points(features["rgb"], len(features["xyz"]))
        with torch.no_grad():
            fused = self.fusion_.fuse(torch.from_numpy(features["xyz"]).float().to(self.device),
                                      torch.from_numpy(rgb).float().to(self.device))
        return fused.cpu().numpy()

    def _scores(self, features: dict[str, np.ndarray]) -> dict[str, tuple[float, np.ndarray]]:
        scale = 1000.0 if self.quirk_score_scale else 1.0
        out = {}
        for name, patches in features.items():
            side = int(round(math.sqrt(len(patches))))
            out[name] = self.banks_[name].score(patches, (side, side), n_reweight=self.n_reweight,
                                                sigma=self.blur_sigma, score_scale=scale)
        return out

    # -- fit / predict ----------------------------------------------------------------------------------------------
    def fit(self, samples: Sequence[Sample]) -> M3DM:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.uff and self.modality != "both":
            raise ValueError(f"uff=true fuses RGB and points: it needs modality='both', got {self.modality!r}")
        if len(samples) == 0:
            raise ValueError("M3DM needs at least one training sample")
        if self._uses("rgb"):
            self.rgb_ = build_backbone(self.backbone, **({"train_mode": True} if self.train_mode else {}))
        if self._uses("xyz"):
            self.points_ = build_backbone(self.point_backbone)
        if hasattr(self, "fusion_"):
            del self.fusion_  # a refit trains a new fusion block
        used = [samples[i] for i in range(min(len(samples), self.max_train_samples))]
        features = [self._features(sample) for sample in used]  # kept for the second (fusion) pass
        banks = {name: np.concatenate([f[name] for f in features]).astype(np.float32) for name in features[0]}
        self.banks_: dict[str, PatchBank] = {}
        if "xyz" in banks:
            xyz = banks["xyz"]
            # the reference standardises the point bank only when fusing it with RGB (DoubleRGBPointFeatures)
            mean, std = (float(xyz.mean()), float(xyz.std(ddof=1))) if self.modality == "both" else (0.0, 1.0)
            if self.quirk_bank_stats and "rgb" in banks:
                std = float(banks["rgb"].std(ddof=1))
            self.banks_["xyz"] = build_bank(xyz, mean, std, int(self.coreset_fraction * len(xyz)),
                                            eps=self.coreset_eps, seed=self.seed, device=self.device,
                                            keep_zero_row=True, quirk_scale=self.quirk_score_scale)
        if "rgb" in banks:
            rgb = banks["rgb"]
            mean, std = float(rgb.mean()), float(rgb.std(ddof=1))
            if self.quirk_bank_stats and "xyz" in banks:
                mean = float(banks["xyz"].mean())
            size = int(self.coreset_fraction * len(rgb))
            if self.quirk_coreset_sizes and "xyz" in self.banks_:
                size = int(self.coreset_fraction * len(self.banks_["xyz"].bank.bank))
            self.banks_["rgb"] = build_bank(rgb, mean, std, size, eps=self.coreset_eps, seed=self.seed,
                                            device=self.device, quirk_scale=self.quirk_score_scale)
        del banks
        if self.uff:
            self._fit_fusion_bank(features)
        if self.modality == "both":
            self._fit_decision_fusion(features)
        return self

    def _fit_fusion_bank(self, features: list[dict[str, np.ndarray]]) -> None:
        """Train UFF on the training images' patch pairs, then build the fusion bank from their fused patches."""
        from .uff import UFFTraining, pair_rgb_with_points, train_uff

        training = UFFTraining(epochs=self.uff_epochs, batch_size=self.uff_batch_size, accum_iter=self.uff_accum_iter,
                               lr=self.uff_lr, warmup_epochs=self.uff_warmup_epochs,
                               weight_decay=self.uff_weight_decay, patches_per_image=self.uff_patches_per_image)
        pairs = [(f["xyz"], pair_rgb_with_points(f["rgb"], len(f["xyz"]), quirk_pairing=self.uff_quirk_pairing))
                 for f in features]
        self.fusion_, self.uff_losses_ = train_uff(pairs, training, seed=self.seed, device=self.device)
        del pairs
        for f in features:
            f["fusion"] = self._fused_patches(f)
        fused = np.concatenate([f["fusion"] for f in features]).astype(np.float32)
        mean, std = float(fused.mean()), float(fused.std(ddof=1))
        if self.quirk_bank_stats:  # TripleFeatures: fusion_std = std(rgb bank), fusion_mean = mean(xyz bank)
            mean, std = self.banks_["xyz"].mean, self.banks_["rgb"].std
        size = int(self.coreset_fraction * len(fused))
        if self.quirk_coreset_sizes:
            size = int(self.coreset_fraction * len(self.banks_["xyz"].bank.bank))
        self.banks_["fusion"] = build_bank(fused, mean, std, size, eps=self.coreset_eps, seed=self.seed,
                                           device=self.device, quirk_scale=self.quirk_score_scale)

    def _fused_inputs(self, scores: dict[str, tuple[float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        weighted = [(self.xyz_lambda, scores["xyz"]), (self.rgb_lambda, scores["rgb"])]
        if "fusion" in scores:
            weighted.append((self.fusion_lambda, scores["fusion"]))
        image = np.array([[weight * score for weight, (score, _) in weighted]])
        pixels = np.stack([weight * anomaly_map.ravel() for weight, (_, anomaly_map) in weighted], 1)
        return image, pixels

    def _fit_decision_fusion(self, features: Sequence[dict[str, np.ndarray]]) -> None:
        """The second pass over the training images: their scores against the banks train the two fusers."""
        from sklearn.linear_model import SGDOneClassSVM

        images, pixels = [], []
        for sample_features in features:
            image, pixel = self._fused_inputs(self._scores(sample_features))
            images.append(image)
            pixels.append(pixel)
        state = int(rng(self.seed, "m3dm-ocsvm").integers(2**31 - 1))
        self.detect_fuser_ = SGDOneClassSVM(nu=self.ocsvm_nu, max_iter=self.ocsvm_max_iter, random_state=state)
        self.seg_fuser_ = SGDOneClassSVM(nu=self.ocsvm_nu, max_iter=self.ocsvm_max_iter, random_state=state)
        self.detect_fuser_.fit(np.concatenate(images))
        self.seg_fuser_.fit(np.concatenate(pixels))

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        out = []
        for sample in samples:
            scores = self._scores(self._features(sample))
            if self.modality == "both":
                image, pixels = self._fused_inputs(scores)
                score = float(self.detect_fuser_.score_samples(image)[0])
                anomaly_map = self.seg_fuser_.score_samples(pixels).reshape(IMAGE_SIZE, IMAGE_SIZE)
            else:
                score, anomaly_map = scores[self.modality]
            out.append(Prediction(score=score, map=np.asarray(anomaly_map, dtype=np.float32)))
        return out

    # -- introspection ----------------------------------------------------------------------------------------------
    def torch_modules(self) -> list[Any]:
        fusion = [self.fusion_] if hasattr(self, "fusion_") else []
        return fusion + [m for name in ("rgb_", "points_") if hasattr(self, name)
                         for m in getattr(self, name).torch_modules()]

    def memory_bank_bytes(self) -> int:
        return sum(bank.nbytes for bank in getattr(self, "banks_", {}).values())
