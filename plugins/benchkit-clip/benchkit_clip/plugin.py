"""Registers the CLIP backbones. Imports nothing heavy: open_clip and torch load when a backbone is built.

Both read one checkpoint, the configuration the zero-shot 3D papers use: OpenAI's CLIP ViT-L/14 at 336 px (PointAD
train.py; MVP-PCLIP loads open_clip ``ViT-L-14-336`` with ``pretrained='openai'``). OpenAI's weights were trained
with QuickGELU, so the model config is ``ViT-L-14-336-quickgelu``: open_clip applies the ``openai`` tag's
quick_gelu only for the tag, not for a checkpoint given as a file path.
"""

from __future__ import annotations

from benchkit import BackboneSpec, hookimpl

WEIGHTS_FILE = "clip-vit-l-14-336-openai.safetensors"
WEIGHTS_HINT = ("download open_clip_model.safetensors from "
                "https://huggingface.co/timm/vit_large_patch14_clip_336.openai (OpenAI's CLIP ViT-L/14@336px in "
                "open_clip's layout) and save it under this name")


def make_clip_image(**params):
    from benchkit_clip.model import ClipImage

    return ClipImage(**params)


def make_clip_text(**params):
    from benchkit_clip.model import ClipText

    return ClipText(**params)


@hookimpl
def register_backbones(register):
    register(BackboneSpec(
        name="clip-image", version="1.0",
        description="CLIP ViT-L/14@336px (OpenAI) patch tokens projected into the image-text space (PointAD)",
        factory=make_clip_image, kind="image-patches", weights_file=WEIGHTS_FILE, weights_hint=WEIGHTS_HINT,
        output_dim=768))
    register(BackboneSpec(
        name="clip-text", version="1.0",
        description="CLIP ViT-L/14@336px (OpenAI) text embeddings, projected, not normalised",
        factory=make_clip_text, kind="text", weights_file=WEIGHTS_FILE, weights_hint=WEIGHTS_HINT, output_dim=768))
