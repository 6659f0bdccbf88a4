"""DINO ViT-B/8 (Caron et al., ICCV 2021) patch tokens: the RGB features of M3DM, CFM, MAFR and the text-guided method.

Architecture: timm's ``vit_base_patch8_224.dino`` (the same network as DINO's ``vit_base(patch_size=8)``, with the
same parameter names; timm's own cfg points at the same file). Weights: the official backbone-only file
``dino_vitbase8_pretrain.pth`` (facebookresearch/dino README, hubconf.py ``dino_vitb8``), a bare state dict of 150
tensors loaded with ``strict=True`` as DINO's hub entry does. The full training checkpoint (student / teacher /
heads) is refused with a message saying which file to use.

Features as M3DM (models/models.py ``forward_rgb_features``) and CFM read them: the image resized to 224 x 224
(bicubic, PIL, as their ``Resize((224, 224), BICUBIC)``), ImageNet mean/std, patch embedding + positional embedding,
all 12 blocks, the final LayerNorm, the class token dropped: 28 x 28 x 768.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchkit import Backbone, DataError

WEIGHTS_FILE = "dino_vitbase8_pretrain.pth"
WEIGHTS_HINT = ("download https://dl.fbaipublicfiles.com/dino/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth "
                "(the backbone-only file of facebookresearch/dino)")
TIMM_ARCHITECTURE = "vit_base_patch8_224.dino"
IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_network_input(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """(3, size, size) float32: bicubic resize (PIL) of an H x W x 3 uint8 image, then ImageNet normalisation."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    if rgb.shape[:2] != (size, size):
        rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BICUBIC))
    x = (rgb.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def load_dino_state(path: Path) -> dict[str, torch.Tensor]:
    """The bare state dict of the official file, or a `DataError` naming the file and the fix."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to replace
        raise DataError(path, f"cannot read the DINO checkpoint ({type(exc).__name__}: {exc})", WEIGHTS_HINT) from None
    if not isinstance(state, dict):
        raise DataError(path, f"not a state dict ({type(state).__name__})", WEIGHTS_HINT)
    if "teacher" in state or "student" in state:
        raise DataError(path, "this is DINO's full training checkpoint (student/teacher), not the backbone file",
                        WEIGHTS_HINT)
    return state


class DinoViT(Backbone):
    """Frozen DINO ViT-B/8: ``encode(rgb)`` -> (28, 28, 768) float32 patch tokens.

    ``weights_path``: the resolved official file, or None for timm's random initialisation (``--allow-random-init``;
    the harness records it). ``train_mode``: leave the network in training mode, as M3DM and CFM do (they never call
    ``.eval()``); for this ViT it changes nothing, since timm builds it without dropout or drop-path.
    """

    def __init__(self, weights_path: str | Path | None = None, seed: int = 0, device: str = "cpu",
                 train_mode: bool = False) -> None:
        import timm

        self.device = device
        self.train_mode = train_mode
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = timm.create_model(TIMM_ARCHITECTURE, pretrained=False, num_classes=0)
        if weights_path is not None:
            state = load_dino_state(Path(weights_path))
            own = self.model.state_dict()
            missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                     if k in state and state[k].shape != v.shape]
            if missing or unexpected or wrong:
                raise DataError(weights_path, f"not a DINO ViT-B/8 state dict: missing {missing[:5]}, unexpected "
                                              f"{unexpected[:5]}, wrong shapes {wrong[:3]}", WEIGHTS_HINT)
            self.model.load_state_dict(state, strict=True)
        self.model.requires_grad_(False).train(train_mode).to(device)
        self.output_dim = self.model.embed_dim

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(to_network_input(rgb))[None].to(self.device)
        with torch.no_grad():
            tokens = self.model.forward_features(x)[0, self.model.num_prefix_tokens:]
        side = int(round(len(tokens) ** 0.5))
        return tokens.reshape(side, side, -1).float().cpu().numpy()

    def torch_modules(self) -> list:
        return [self.model]
