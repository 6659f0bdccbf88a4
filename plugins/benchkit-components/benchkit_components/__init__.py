"""Operations that benchkit's method plugins share, each in one place (the way anomalib keeps
``models/components``). A method plugin imports these; a component never imports a method plugin.

- `sampling`: farthest-point sampling (also the greedy k-center coreset) and seeded random subsampling.
- `neighbours`: exact nearest neighbours (scipy KD-tree for 3-D points; faiss, or numpy's BLAS for small query sets,
  for feature banks) and spreading values from sampled points to every point.
- `groups`: point groups (FPS centres + kNN neighbourhoods) and group scores back to points.
- `fpfh`: open3d normals and FPFH, point spacing.
- `grid_knn`: exact nearest neighbours of an organized scan's points through its pixel grid (numba kernels).
- `fpfh_grid`: open3d's normals and FPFH of organized scans from those neighbour lists (BTF's paper configuration).
- `memory_bank`: PatchCore's projections, approximate coreset and re-weighted image score.
- `grid`: organized (H x W) grids: nearest resizing, patch pooling, background-plane removal.
- `feature_maps`: RGB and point features on one pixel grid and the crossmodal methods' map smoothing (CFM's recipe,
  reused by MAFR and the text-guided method).
- `score_maps`: patch scores to a pixel anomaly map (bilinear upsampling and Gaussian blur of BTF and M3DM).
- `rendering`: multi-view z-buffered rendering of clouds and organized scans, pixel-to-point correspondence and
  back-projection (PointAD's views), for the zero-shot methods.
- `prompts`: WinCLIP's prompt ensemble (normal and anomalous states in 21 templates), for every method that prompts a
  text encoder.

Importing a module is cheap: torch, faiss, scipy and open3d are imported inside the functions that use them.
"""
