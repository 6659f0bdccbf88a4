"""RGB+3D frozen-feature backbones for benchkit: DINO ViT-B/8 patch tokens, Point-MAE tokens laid onto the pixel grid,
and a weight-free pair (colour/texture patches, FPFH on pixels). Registered in `benchkit_image_backbones.plugin`."""
