"""CLIP towers from an open_clip checkpoint file, as benchkit backbones.

- `ClipImage` (kind ``image-patches``): ``encode(rgb)`` takes an H x W x 3 uint8 image, or a batch B x H x W x 3,
  and returns the final block's patch tokens after ``ln_post`` and the visual projection, (h, w, D) or
  (B, h, w, D) float32, h = w = image size / patch size (24 x 24 x 768 for ViT-L/14@336). Projected, the tokens
  live in the space of the text embeddings, so ``cos(token, text)`` scores a patch (as WinCLIP, AnomalyCLIP and
  PointAD compare them). ``encode_image(rgb)`` gives the pooled image embedding, (D,) or (B, D); ``encode_all``
  both from one forward pass.
- `ClipText` (kind ``text``): ``encode(texts)`` returns (n, D) float32 text embeddings after ``text_projection``,
  NOT normalised: WinCLIP-style prompt ensembles average embeddings before normalising them.

Preprocessing: images are resized to the model's square input size with bicubic resampling (no centre crop, so
tokens stay aligned with the whole image; PointAD resizes its renderings to 336 the same way) and normalised with
the model's mean and std (OpenAI's for CLIP configs). Text goes through open_clip's tokenizer for the config (the
BPE vocabulary ships with open_clip: no download).

Loading: ``open_clip.create_model(model_name, pretrained=<file>)`` (``.safetensors`` or a torch state dict, strict
key match; open_clip strips ``module.`` and resizes position embeddings). Without a file (the harness allowed a
random initialization) the towers are initialised from ``torch.manual_seed(seed)``. One loaded model serves both
backbones of a job (cached per config, file and device).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from benchkit import Backbone, DataError

DEFAULT_MODEL = "ViT-L-14-336-quickgelu"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

_loaded: dict[tuple[str, str | None, str, int], Any] = {}


def load_clip(model_name: str, weights_path: Path | None, device: str = "cpu", seed: int = 0):
    """The open_clip model for ``model_name`` with the weights of ``weights_path`` (None: seeded random init), in
    eval mode, cached."""
    import open_clip
    import torch

    key = (model_name, None if weights_path is None else str(weights_path), device, seed)
    if key in _loaded:
        return _loaded[key]
    if model_name not in open_clip.list_models():
        raise ValueError(f"unknown open_clip model config {model_name!r}; e.g. {DEFAULT_MODEL}")
    if weights_path is None:
        torch.manual_seed(seed)
    try:
        model = open_clip.create_model(model_name, pretrained=None if weights_path is None else str(weights_path),
                                       device=device)
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(weights_path, f"not an open_clip {model_name} checkpoint ({first[:300]})",
                        "expected the open_clip key layout (visual.conv1.weight, visual.transformer.resblocks.N..., "
                        "token_embedding.weight, text_projection, ...) as .safetensors or a torch state dict") from None
    model.eval()
    _loaded[key] = model
    return model


class ClipImage(Backbone):
    def __init__(self, weights_path: Path | None = None, model_name: str = DEFAULT_MODEL, seed: int = 0,
                 device: str = "cpu") -> None:
        self.model_name, self.device = model_name, device
        self.model = load_clip(model_name, weights_path, device, seed)
        size = self.model.visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        cfg = getattr(self.model.visual, "preprocess_cfg", {}) or {}
        self.mean = tuple(cfg.get("mean", OPENAI_MEAN))
        self.std = tuple(cfg.get("std", OPENAI_STD))
        self.embed_dim = int(self.model.visual.output_dim)

    def preprocess(self, images: np.ndarray):
        """(B, H, W, 3) uint8 -> (B, 3, S, S) normalised float tensor on the device."""
        import torch
        from PIL import Image

        resized = [np.asarray(Image.fromarray(np.ascontiguousarray(im)).convert("RGB").resize(
            (self.image_size, self.image_size), Image.BICUBIC), dtype=np.float32) / 255.0 for im in images]
        x = (np.stack(resized) - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(self.device)

    def encode_all(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(patch tokens, pooled embedding) of one forward pass: what `encode` and `encode_image` return."""
        import torch

        images = np.asarray(rgb)
        single = images.ndim == 3
        if images.ndim not in (3, 4) or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"clip-image encodes H x W x 3 (or B x H x W x 3) uint8 images, got {images.dtype} "
                             f"{images.shape}")
        visual = self.model.visual
        with torch.no_grad():
            visual.output_tokens = True
            try:
                pooled, tokens = visual(self.preprocess(images[None] if single else images))
            finally:
                visual.output_tokens = False
            if visual.proj is not None:
                tokens = tokens @ visual.proj
        side = int(round(tokens.shape[1] ** 0.5))
        tokens = tokens.reshape(tokens.shape[0], side, side, -1).float().cpu().numpy()
        pooled = pooled.float().cpu().numpy()
        return (tokens[0], pooled[0]) if single else (tokens, pooled)

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        return self.encode_all(rgb)[0]

    def encode_image(self, rgb: np.ndarray) -> np.ndarray:
        return self.encode_all(rgb)[1]

    def torch_modules(self) -> list[Any]:
        return [self.model.visual]


class ClipText(Backbone):
    def __init__(self, weights_path: Path | None = None, model_name: str = DEFAULT_MODEL, seed: int = 0,
                 device: str = "cpu") -> None:
        import open_clip

        self.model_name, self.device = model_name, device
        self.model = load_clip(model_name, weights_path, device, seed)
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.embed_dim = int(self.model.text_projection.shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValueError("clip-text encodes a list of strings")
        with torch.no_grad():
            out = self.model.encode_text(self.tokenizer(list(texts)).to(self.device), normalize=False)
        return out.float().cpu().numpy()

    def torch_modules(self) -> list[Any]:
        return [self.model.transformer, self.model.token_embedding, self.model.ln_final]
