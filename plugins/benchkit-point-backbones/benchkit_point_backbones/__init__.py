"""Point-cloud feature backbones of kind ``point-groups`` for benchkit: the Point-MAE encoder and weight-free FPFH
group tokens. Detectors build them by name with `benchkit.build_backbone`; the grouping and the other point
operations come from `benchkit_components`.

Importing this package is cheap; torch and open3d are imported by the submodules that need them.
"""
