"""Write checkpoints in the official file layouts with random values: for tests, and to check an installation's
loading path without the real downloads.

- DINO ViT-B/8 (``dino_vitbase8_pretrain.pth``): a bare state dict of the 150 backbone tensors, DINO's names
  (facebookresearch/dino vision_transformer.py; hubconf.py loads it with ``strict=True``).
- Point-MAE (``pointmae_pretrain.pth``): ``{'base_model', 'optimizer', 'epoch', 'metrics', 'best_metrics'}``
  (Pang-Yatian/Point-MAE tools/builder.py ``save_checkpoint``), ``base_model`` holding the pre-training model's
  state dict under DataParallel's ``module.`` prefix: ``MAE_encoder.*`` and the decoder entries loaders ignore.
  The names and shapes are written out here from the published layout, not taken from benchkit's own encoder, so
  a test that loads this file checks benchkit's loader against the layout.
"""

from __future__ import annotations

from pathlib import Path

import torch


def write_dino_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """A DINO-layout bare state dict (values from timm's initialisation under ``seed``)."""
    import timm

    torch.manual_seed(seed)
    model = timm.create_model("vit_base_patch8_224.dino", pretrained=False, num_classes=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, path)
    return path


def _batch_norm(prefix: str, width: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": 1 + 0.1 * torch.randn(width, generator=g),
            f"{prefix}.bias": 0.1 * torch.randn(width, generator=g),
            f"{prefix}.running_mean": 0.1 * torch.randn(width, generator=g),
            f"{prefix}.running_var": 1 + 0.1 * torch.rand(width, generator=g),
            f"{prefix}.num_batches_tracked": torch.tensor(1000)}


def point_mae_encoder_shapes(depth: int = 12, dim: int = 384) -> dict[str, tuple[int, ...]]:
    """Shapes of the ``MAE_encoder.*`` parameters (Point-MAE models/Point_MAE.py ``MaskTransformer``, ``Encoder``)."""
    shapes: dict[str, tuple[int, ...]] = {
        "encoder.first_conv.0.weight": (128, 3, 1), "encoder.first_conv.0.bias": (128,),
        "encoder.first_conv.3.weight": (256, 128, 1), "encoder.first_conv.3.bias": (256,),
        "encoder.second_conv.0.weight": (512, 512, 1), "encoder.second_conv.0.bias": (512,),
        "encoder.second_conv.3.weight": (dim, 512, 1), "encoder.second_conv.3.bias": (dim,),
        "pos_embed.0.weight": (128, 3), "pos_embed.0.bias": (128,),
        "pos_embed.2.weight": (dim, 128), "pos_embed.2.bias": (dim,),
        "norm.weight": (dim,), "norm.bias": (dim,),
    }
    for i in range(depth):
        b = f"blocks.blocks.{i}"
        shapes.update({f"{b}.norm1.weight": (dim,), f"{b}.norm1.bias": (dim,), f"{b}.attn.qkv.weight": (3 * dim, dim),
                       f"{b}.attn.proj.weight": (dim, dim), f"{b}.attn.proj.bias": (dim,),
                       f"{b}.norm2.weight": (dim,), f"{b}.norm2.bias": (dim,),
                       f"{b}.mlp.fc1.weight": (4 * dim, dim), f"{b}.mlp.fc1.bias": (4 * dim,),
                       f"{b}.mlp.fc2.weight": (dim, 4 * dim), f"{b}.mlp.fc2.bias": (dim,)})
    return shapes


def write_point_mae_checkpoint(path: str | Path, seed: int = 0, prefix: str = "module.") -> Path:
    """A Point-MAE pre-training checkpoint (encoder + decoder entries) with random values under ``seed``."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, shape in point_mae_encoder_shapes().items():
        norm = name.endswith(("norm.weight", "norm1.weight", "norm2.weight"))
        state[name] = 1 + 0.05 * torch.randn(shape, generator=g) if norm else 0.05 * torch.randn(shape, generator=g)
    state.update(_batch_norm("encoder.first_conv.1", 128, g))
    state.update(_batch_norm("encoder.second_conv.1", 512, g))
    base = {f"{prefix}MAE_encoder.{k}": v for k, v in state.items()}
    base.update({f"{prefix}mask_token": torch.zeros(1, 1, 384),
                 f"{prefix}decoder_pos_embed.0.weight": torch.zeros(128, 3),
                 f"{prefix}MAE_decoder.norm.weight": torch.ones(384),
                 f"{prefix}increase_dim.0.weight": torch.zeros(96, 384, 1)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"base_model": base, "optimizer": {}, "epoch": 300, "metrics": {}, "best_metrics": {}}, path)
    return path
