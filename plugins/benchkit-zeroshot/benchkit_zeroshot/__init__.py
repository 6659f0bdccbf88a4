"""Training-free zero-shot 3D anomaly detectors for benchkit (see `benchkit_zeroshot.plugin`)."""
