"""Tiny CLIP checkpoints for tests of CLIP-based detectors, where the real weights cannot be downloaded.

`register_tiny_config()` adds ``benchkit-tiny-clip`` to open_clip's model configs (open_clip's own mechanism,
``add_model_config``): a 2-block ViT with 14 px patches at 56 px and a 2-block text tower, QuickGELU as OpenAI's
models. `write_checkpoint(path)` saves a seeded random model of any config in open_clip's key layout (safetensors
or a torch state dict, chosen by the suffix), exactly what `benchkit_clip.model.load_clip` reads.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

TINY_MODEL = "benchkit-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 56, "layers": 2, "width": 64, "patch_size": 14},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def register_tiny_config() -> str:
    """Make ``benchkit-tiny-clip`` an open_clip model config in this process; returns its name."""
    import open_clip

    if TINY_MODEL not in open_clip.list_models():
        folder = Path(tempfile.mkdtemp(prefix="benchkit-clip-config-"))
        (folder / f"{TINY_MODEL}.json").write_text(json.dumps(TINY_CONFIG))
        open_clip.add_model_config(folder)
    return TINY_MODEL


def write_checkpoint(path: str | Path, model_name: str = TINY_MODEL, seed: int = 0) -> dict:
    """Save a random (seeded) open_clip ``model_name`` to ``path``; returns its state dict."""
    import open_clip
    import torch

    if model_name == TINY_MODEL:
        register_tiny_config()
    torch.manual_seed(seed)
    state = open_clip.create_model(model_name, pretrained=None).state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return state
