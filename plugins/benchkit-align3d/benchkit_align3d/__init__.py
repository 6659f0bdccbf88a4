"""Align3D-AD for benchkit (see `benchkit_align3d.detector`)."""
