"""CLIP backbones for benchkit (see `benchkit_clip.plugin` and `benchkit_clip.model`)."""
