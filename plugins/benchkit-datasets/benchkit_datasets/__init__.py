"""Readers for the public 3D anomaly-detection datasets, each laid out exactly as downloaded."""
