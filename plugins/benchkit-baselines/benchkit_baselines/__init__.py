"""Classic weight-free baselines: BTF and PatchCore on FPFH / raw geometry."""
