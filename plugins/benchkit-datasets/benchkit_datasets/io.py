"""File readers shared by the dataset plugins.

Every reader turns any problem (missing file, corrupt file, wrong shape, NaN values) into a `benchkit.DataError`
that names the file, so a bad download ends in one clear message instead of a library traceback. Heavy libraries
(tifffile, PIL, open3d, pandas) are imported inside the functions: the plugin entry-point modules import this one
and `benchkit list` must stay fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchkit import DataError

REDOWNLOAD = "re-download or re-extract this file from the original archive"


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(path, "file not found", "check that the dataset copy is complete and laid out as downloaded")


def _check_finite(path: Path, array: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array).all(axis=-1))) if array.ndim > 1 else int(
            np.count_nonzero(~np.isfinite(array))
        )
        raise DataError(path, f"{what} holds {bad} NaN or infinite values", REDOWNLOAD)


def read_xyz_tiff(path: str | Path) -> np.ndarray:
    """An organized point cloud stored as an H x W x 3 float TIFF (MVTec 3D-AD); missing points are (0, 0, 0)."""
    import tifffile

    path = Path(path)
    _require_file(path)
    try:
        xyz = tifffile.imread(path)
    except Exception as exc:  # tifffile raises many types for corrupt files
        raise DataError(path, f"cannot read TIFF ({type(exc).__name__}: {exc})", REDOWNLOAD) from exc
    if xyz.size == 0:
        raise DataError(path, "cannot read TIFF (no image data: the file is truncated or corrupt)", REDOWNLOAD)
    if xyz.ndim != 3 or xyz.shape[-1] != 3:
        raise DataError(path, f"expected an H x W x 3 organized point cloud, got an array of shape {xyz.shape}",
                        REDOWNLOAD)
    if not np.issubdtype(xyz.dtype, np.floating):  # uint8 (an image saved as .tiff) or complex: not coordinates
        raise DataError(path, f"expected float x, y, z coordinates, got {xyz.dtype} values", REDOWNLOAD)
    xyz = np.ascontiguousarray(xyz, dtype=np.float32)
    _check_finite(path, xyz, "point cloud")
    return xyz


def read_image(path: str | Path) -> np.ndarray:
    """A PNG (or any PIL format) as stored: uint8 or uint16, H x W or H x W x C."""
    from PIL import Image

    path = Path(path)
    _require_file(path)
    try:
        with Image.open(path) as im:
            im.load()
            array = np.asarray(im)
    except Exception as exc:
        raise DataError(path, f"cannot read image ({type(exc).__name__}: {exc})", REDOWNLOAD) from exc
    return array


def read_rgb(path: str | Path) -> np.ndarray:
    """An RGB image as H x W x 3 uint8 (grey or RGBA images are converted)."""
    from PIL import Image

    path = Path(path)
    _require_file(path)
    try:
        with Image.open(path) as im:
            if im.mode != "RGB":
                im = im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except Exception as exc:
        raise DataError(path, f"cannot read image ({type(exc).__name__}: {exc})", REDOWNLOAD) from exc


def read_mask(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A ground-truth mask as H x W uint8 in {0, 1} (any non-zero pixel is anomalous).

    ``shape`` is the expected (H, W) (that of the sample's cloud); a mask of another size is an error.
    """
    path = Path(path)
    mask = read_image(path)
    if mask.ndim == 3:  # masks saved as RGB(A): anomalous where any channel is set
        mask = mask.max(axis=-1)
    if mask.ndim != 2:
        raise DataError(path, f"expected a 2-D mask, got an array of shape {mask.shape}", REDOWNLOAD)
    if shape is not None and tuple(mask.shape) != tuple(shape):
        raise DataError(path, f"mask is {mask.shape[0]}x{mask.shape[1]} but its sample is {shape[0]}x{shape[1]}",
                        REDOWNLOAD)
    return (mask > 0).astype(np.uint8)


def _pcd_header(path: Path) -> tuple[dict[str, str], int]:
    """The header fields of a PCD file (upper-case keys) and the byte offset where its data starts."""
    fields: dict[str, str] = {}
    offset = 0
    with open(path, "rb") as f:
        for _ in range(32):  # a PCD header has 10-11 lines
            line = f.readline()
            if not line:
                break
            offset += len(line)
            text = line.decode("ascii", errors="replace").strip()
            if not text or text.startswith("#"):
                continue
            key, _, value = text.partition(" ")
            fields[key.upper()] = value.strip()
            if key.upper() == "DATA":
                break
    if "DATA" not in fields or "POINTS" not in fields and "WIDTH" not in fields:
        raise DataError(path, "not a valid PCD file (no PCD header with POINTS and DATA)", REDOWNLOAD)
    return fields, offset


def pcd_header_points(path: str | Path) -> int:
    """The point count declared in a PCD header.

    Hand-written because open3d does not report why a read failed (it prints a warning and returns an empty cloud);
    the header tells an empty cloud from a corrupt file.
    """
    path = Path(path)
    _require_file(path)
    fields, _ = _pcd_header(path)
    try:
        if "POINTS" in fields:
            return int(fields["POINTS"])
        return int(fields["WIDTH"]) * int(fields.get("HEIGHT", "1"))
    except ValueError:
        raise DataError(path, f"not a valid PCD file (bad point count {fields.get('POINTS')!r})", REDOWNLOAD) from None


def _check_pcd_payload(path: Path, declared: int) -> None:
    """The data section holds as many points as the header declares.

    Needed because open3d allocates the declared count and, for an ASCII file cut short, returns the rows it never
    read as uninitialised memory instead of failing (a header of 80 points over 50 rows gives 80 points).
    """
    fields, offset = _pcd_header(path)
    kind = fields["DATA"].lower()
    try:
        sizes = [int(v) for v in fields.get("SIZE", "").split()]
        counts = [int(v) for v in fields.get("COUNT", "").split()] or [1] * len(sizes)
    except ValueError:
        raise DataError(path, "not a valid PCD file (bad SIZE or COUNT line)", REDOWNLOAD) from None
    values_per_point = sum(counts)
    point_bytes = sum(s * c for s, c in zip(sizes, counts))
    if kind == "ascii":
        with open(path, "rb") as f:
            f.seek(offset)
            body = f.read().strip()
        found = body.count(b"\n") + 1 - body.count(b"\n\n") if body else 0  # blank lines are not rows
        for which, row in (("first", body[:body.find(b"\n")]), ("last", body[body.rfind(b"\n") + 1:])):
            if body and values_per_point and len(row.split()) != values_per_point:
                raise DataError(path, f"the {which} data row has {len(row.split())} values, the header declares "
                                      f"{values_per_point} per point (truncated file?)", REDOWNLOAD)
    elif kind == "binary":
        found = (path.stat().st_size - offset) // point_bytes if point_bytes else declared
    elif kind == "binary_compressed":
        with open(path, "rb") as f:
            f.seek(offset)
            sizes_field = f.read(8)
        compressed = int.from_bytes(sizes_field[:4], "little") if len(sizes_field) == 8 else None
        found = declared if compressed is not None and path.stat().st_size - offset - 8 >= compressed else 0
    else:
        raise DataError(path, f"unknown PCD data encoding {fields['DATA']!r} (expected ascii, binary or "
                              f"binary_compressed)", REDOWNLOAD)
    if found < declared:
        raise DataError(path, f"header declares {declared} points but the file holds "
                              f"{'only ' + str(found) if found else 'no'} complete points (truncated file?)",
                        REDOWNLOAD)
    if kind == "ascii" and found > declared:
        raise DataError(path, f"header declares {declared} points but the file holds {found} data rows",
                        "fix the POINTS/WIDTH lines of the header or " + REDOWNLOAD)


def read_pcd(path: str | Path) -> np.ndarray:
    """An unorganized point cloud (PCD, or any format open3d reads) as N x 3 float32."""
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    path = Path(path)
    _require_file(path)
    if path.suffix.lower() == ".pcd":
        declared = pcd_header_points(path)
        if declared == 0:
            raise DataError(path, "the point cloud is empty (its header declares 0 points)", REDOWNLOAD)
        _check_pcd_payload(path, declared)
    cloud = o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
    points = np.asarray(cloud.points, dtype=np.float32)
    if len(points) == 0:
        raise DataError(path, "no points could be read (the file is empty, truncated or corrupt)", REDOWNLOAD)
    if path.suffix.lower() == ".pcd" and len(points) != declared:
        raise DataError(path, f"header declares {declared} points but {len(points)} were read (truncated file?)",
                        REDOWNLOAD)
    _check_finite(path, points, "point cloud")
    return points


def read_point_labels(path: str | Path, delimiter: str) -> tuple[np.ndarray, np.ndarray]:
    """A ground-truth text file of rows ``x y z label`` (``delimiter`` between the values).

    Returns (points N x 3 float32, labels N uint8 in {0, 1}). Real3D-AD separates with spaces, Anomaly-ShapeNet
    with commas; a file in the other format is reported, not silently misread.
    """
    import pandas as pd

    path = Path(path)
    _require_file(path)
    sep = r"\s+" if delimiter.strip() == "" else delimiter
    try:
        table = pd.read_csv(path, sep=sep, header=None, dtype=np.float64, engine="c", comment="#")
    except pd.errors.EmptyDataError:
        raise DataError(path, "the ground-truth file is empty", REDOWNLOAD) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(path, f"cannot parse ground truth as rows of 'x{delimiter}y{delimiter}z{delimiter}label'"
                              f"{_delimiter_hint(path, delimiter)} ({exc})", REDOWNLOAD) from exc
    values = table.to_numpy()
    if values.ndim != 2 or values.shape[1] != 4:
        raise DataError(path, f"expected 4 values per row (x{delimiter}y{delimiter}z{delimiter}label) separated by "
                              f"{delimiter!r}, got {values.shape[1] if values.ndim == 2 else 0}", REDOWNLOAD)
    if len(values) == 0:
        raise DataError(path, "the ground-truth file holds no points", REDOWNLOAD)
    points = values[:, :3].astype(np.float32)
    _check_finite(path, points, "ground-truth cloud")
    labels = values[:, 3]
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        raise DataError(path, f"labels must be 0 or 1; found {np.unique(labels[bad])[:5].tolist()}", REDOWNLOAD)
    return points, labels.astype(np.uint8)


def _delimiter_hint(path: Path, delimiter: str) -> str:
    """Say so when a file uses the other dataset's separator (commas vs spaces), the usual cause of a parse error."""
    with open(path, errors="replace") as f:
        first = f.readline()
    if delimiter.strip() == "" and "," in first:
        return ": its rows are comma-separated (Anomaly-ShapeNet style), expected spaces"
    if delimiter == "," and "," not in first and len(first.split()) > 1:
        return ": its rows are space-separated (Real3D-AD style), expected commas"
    return ""


def read_yaml(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    _require_file(path)
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise DataError(path, f"cannot parse YAML ({exc})", REDOWNLOAD) from exc
    if not isinstance(data, dict):
        raise DataError(path, f"expected a YAML mapping, got {type(data).__name__}", REDOWNLOAD)
    return data


def read_matrix(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """A whitespace-separated numeric matrix (Eyecandies' pose.txt)."""
    path = Path(path)
    _require_file(path)
    try:
        matrix = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(path, f"cannot parse a {shape[0]}x{shape[1]} matrix ({exc})", REDOWNLOAD) from exc
    if matrix.shape != shape:
        raise DataError(path, f"expected a {shape[0]}x{shape[1]} matrix, got shape {matrix.shape}", REDOWNLOAD)
    _check_finite(path, matrix, "matrix")
    return matrix
