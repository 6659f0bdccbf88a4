"""Point-cloud feature backbones for benchkit (Point-MAE, FPFH group tokens) and the point-group utilities that
detectors built on them share: farthest point sampling, kNN grouping, and spreading group scores back to points.

Importing this package is cheap; torch, faiss and open3d are imported by the submodules that need them.
"""
