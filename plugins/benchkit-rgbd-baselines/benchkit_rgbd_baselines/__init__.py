"""RGB + 3D baselines on frozen features: M3DM (CVPR 2023) and CFM (CVPR 2024). Registered in
`benchkit_rgbd_baselines.plugin`; the backbones come from the registry (benchkit-image-backbones)."""
