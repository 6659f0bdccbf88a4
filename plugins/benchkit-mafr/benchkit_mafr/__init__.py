"""MAFR (Ali et al.): multimodal attention-driven fusion restoration for RGB + 3D anomaly detection."""
