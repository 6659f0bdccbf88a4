"""SeDiR (Kim, Lee, Cho, CVPR 2026): a unified multi-category 3D anomaly detector that learns category-aware
semantics (a coarse-to-fine global token trained with category-conditioned contrastive learning) before
reconstructing local point-group features with a geometry-guided decoder. See `benchkit_sedir.detector`."""
