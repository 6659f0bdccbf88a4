"""What ``benchkit datasets {list,info,verify,prepare}`` does: dataset metadata, locating copies, checking them.

Metadata is one JSON file per dataset, validated by `DatasetMeta`, shipped by the dataset's plugin as package data
(``DatasetSpec.meta_file``); set ``BENCHKIT_DATASETS_META`` to read ``<name>.json`` files from another folder.
Copies of real datasets live under a data root (``--data-root``
or ``$BENCHKIT_DATA``), one folder per dataset named like the dataset, laid out as the original download; ``--root``
points at one copy directly. No network is used: a missing copy gets a message saying where to put it and where to
download it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from benchkit.errors import BenchkitError, DataError, UsageError

COUNT_FIELDS = ("train", "validation", "test_normal", "test_anomalous")


# -- metadata ----------------------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitCounts(_Strict):
    """Samples per split; None where the source does not say."""

    train: int | None = None
    validation: int | None = None
    test_normal: int | None = None
    test_anomalous: int | None = None


class Download(_Strict):
    url: str
    file: str = ""
    md5: str | None = None
    sha256: str | None = None
    note: str = ""


class DatasetMeta(_Strict):
    name: str
    title: str
    version: str
    embedded: bool
    homepage: str
    license: str
    citation: str
    modalities: list[str]
    layout: str
    splits: list[str]
    split_folders: dict[str, str] = {}
    categories: list[str]
    counts: dict[str, SplitCounts]
    totals: SplitCounts
    counts_source: str
    defect_types: dict[str, list[str]]
    download: list[Download]
    default_metrics: list[str]
    eval_size: tuple[int, int] | None
    notes: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> DatasetMeta:
        from benchkit.datasets import MODALITIES

        if set(self.modalities) - MODALITIES:
            raise ValueError(f"unknown modalities {sorted(set(self.modalities) - MODALITIES)}")
        for field in ("counts", "defect_types"):
            extra = set(getattr(self, field)) - set(self.categories)
            if extra:
                raise ValueError(f"{field} names categories not in 'categories': {sorted(extra)}")
        for what in COUNT_FIELDS:  # per-category counts, where all given, must add up to the totals
            values = [getattr(c, what) for c in self.counts.values()]
            total = getattr(self.totals, what)
            if self.counts.keys() == set(self.categories) and None not in values and total is not None:
                if sum(values) != total:
                    raise ValueError(f"{what}: categories sum to {sum(values)} but totals say {total}")
        if not self.embedded and not self.download:
            raise ValueError("a real dataset needs at least one download location")
        return self


def meta_path(name: str, folder: Path | None = None) -> Path:
    """The metadata file of a dataset: ``<folder>/<name>.json`` when a folder is given (or
    ``$BENCHKIT_DATASETS_META`` is set), else the file the dataset's plugin ships (``DatasetSpec.meta_file``)."""
    folder = folder or (Path(os.environ["BENCHKIT_DATASETS_META"]) if os.environ.get("BENCHKIT_DATASETS_META") else None)
    if folder is not None:
        return Path(folder) / f"{name}.json"
    spec = _spec(name)
    if spec.meta_file is None:
        raise DataError(None, f"dataset {name!r}: its plugin ships no metadata file",
                        "set DatasetSpec.meta_file to a JSON file shipped as package data")
    return Path(spec.meta_file)


def load_meta(name: str, folder: Path | None = None) -> DatasetMeta:
    path = meta_path(name, folder)
    if not path.is_file():
        raise DataError(path, f"no metadata file for dataset {name!r}", "ship <name>.json with the dataset's plugin")
    try:
        meta = DatasetMeta.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise DataError(path, f"invalid dataset metadata: {exc}") from exc
    if meta.name != name:
        raise DataError(path, f"metadata names dataset {meta.name!r}, expected {name!r}")
    return meta


# -- locating copies ---------------------------------------------------------------------------------------------------
def find_data_root(name: str, data_root: str | Path | None = None) -> Path | None:
    """The folder of a real dataset's copy: ``<data_root or $BENCHKIT_DATA>/<name>`` when it exists, else None."""
    from benchkit.paths import data_root as base_root

    base = base_root(data_root)
    candidate = None if base is None else base / name
    return candidate if candidate is not None and candidate.is_dir() else None


def _registry():
    from benchkit.plugins import get_registry

    return get_registry()


def _spec(name: str):
    return _registry().get("datasets", name)


def _open(name: str, root: Path, **options: Any):
    return _spec(name).open(root, **options)


def _resolve_root(name: str, root: str | Path | None, data_root: str | Path | None) -> Path:
    spec = _spec(name)
    if root:
        return Path(root)
    if spec.embedded:
        return spec.root()
    found = find_data_root(name, data_root)
    if found is None:
        raise DataError(None, where_to_put(name, data_root))
    return found


def where_to_put(name: str, data_root: str | Path | None = None) -> str:
    """The message for a missing copy: where benchkit looks and where to download it."""
    from benchkit.paths import data_root as base_root

    base = base_root(data_root)
    place = f"{base / name}" if base else f"DATA_ROOT/{name} (set --data-root DIR or BENCHKIT_DATA=DIR)"
    msg = f"dataset {name}: no copy found; put it at {place}, laid out as the original download"
    try:
        meta = load_meta(name)
    except DataError:
        return msg
    links = "; ".join(d.url for d in meta.download[:3]) + (" ..." if len(meta.download) > 3 else "")
    return f"{msg}. Download: {links or meta.homepage}"


# -- the four actions -------------------------------------------------------------------------------------------------
def list_datasets(data_root: str | Path | None = None) -> list[dict[str, Any]]:
    """Every registered dataset with where its copy is and how many categories it holds."""
    rows = []
    for name, spec in sorted(_registry().datasets.items()):
        root = None if spec.embedded else find_data_root(name, data_root)
        row = {"name": name, "version": spec.version, "embedded": spec.embedded, "description": spec.description,
               "root": None if root is None else str(root), "categories_present": None,
               "categories_expected": len(spec.categories) or None}
        if root is not None:
            try:
                row["categories_present"] = len(_open(name, root).categories())
            except BenchkitError as exc:
                row["error"] = str(exc)
        rows.append(row)
    return rows


def info(name: str) -> dict[str, Any]:
    """The dataset's metadata file plus what its plugin registered."""
    spec = _spec(name)
    out = load_meta(name).model_dump()
    out["plugin"] = {"version": spec.version, "description": spec.description,
                     "modalities": sorted(spec.modalities), "embedded": spec.embedded}
    return out


def _index_all(dataset, category: str, problems: list[str]) -> dict[str, list]:
    refs = {}
    for split in ("train", "validation", "test"):
        try:
            refs[split] = dataset.index(category, split)
        except (BenchkitError, OSError) as exc:
            problems.append(f"{category}/{split}: {exc}")
            refs[split] = []
    return refs


def verify(name: str, root: str | Path, *, deep: bool = True,
           progress: Callable[[str], None] | None = None) -> list[str]:
    """Every problem of a copy, all at once: missing categories, missing or unreadable files, counts that differ
    from the dataset's metadata. ``deep`` loads every sample (slow on large copies but finds corrupt files). Empty list:
    the copy is complete and readable."""
    root = Path(root)
    if not root.is_dir():
        return [f"{root}: no such folder. {where_to_put(name)}"]
    dataset = _open(name, root)
    meta = load_meta(name)
    problems: list[str] = []
    present = dataset.categories()
    for cat in meta.categories:
        if cat not in present:
            problems.append(f"{root / cat}: category {cat!r} missing (partial copy: runs use the present ones)")
    problems.extend(dataset.notices())  # folders that are not categories, files the reader would ignore
    for cat in present:
        if cat not in meta.categories:
            problems.append(f"{root / cat}: folder is not a category of {name} (expected: {', '.join(meta.categories)})")
            continue
        if progress:
            progress(cat)
        if hasattr(dataset, "layout_problems"):
            problems.extend(dataset.layout_problems(cat))
        refs = _index_all(dataset, cat, problems)
        found = {"train": len(refs["train"]), "validation": len(refs["validation"]),
                 "test_normal": sum(r.label == 0 for r in refs["test"]),
                 "test_anomalous": sum(r.label == 1 for r in refs["test"])}
        expected = meta.counts.get(cat)
        for what in COUNT_FIELDS:
            want = None if expected is None else getattr(expected, what)
            if want is not None and found[what] != want:
                problems.append(f"{root / cat}: {found[what]} {what.replace('_', ' ')} samples, expected {want}")
        if deep:
            for split_refs in refs.values():
                for ref in split_refs:
                    if all((root / rel).is_file() for rel in ref.location):  # missing files were reported above
                        try:
                            dataset.load(ref)
                        except BenchkitError as exc:
                            problems.append(str(exc))
    return problems


def prepare(name: str, root: str | Path | None = None, data_root: str | Path | None = None,
            **options: Any) -> dict[str, Any]:
    """Make a dataset ready: embedded ones are generated; for real ones every sample is loaded once with
    ``options`` so that preprocessing (background removal, resizing, voxel down-sampling) lands in the cache.
    With no preprocessing option there is nothing to cache and only the layout is checked."""
    path = _resolve_root(name, root, data_root)
    dataset = _open(name, path, **options)
    if not _spec(name).embedded and not dataset.is_available():
        raise DataError(None, where_to_put(name, data_root))
    dataset.prepare()
    loaded = 0
    if any(v not in (None, False) for k, v in options.items() if k != "cache_dir"):
        for cat in dataset.categories():
            for split in ("train", "validation", "test"):
                for ref in dataset.index(cat, split):
                    dataset.load(ref)
                    loaded += 1
    problems = [p for cat in dataset.categories() for p in getattr(dataset, "layout_problems", lambda c: [])(cat)]
    return {"name": name, "root": str(path), "categories": dataset.categories(), "samples_preprocessed": loaded,
            "config": dataset.config(), "problems": problems}


# -- CLI glue (the parser is built in benchkit.cli_parser) -------------------------------------------------------------
def cli(args) -> int:
    action = args.action
    data_root = getattr(args, "data_root", None)
    if action == "list":
        for row in list_datasets(data_root):
            where = "embedded" if row["embedded"] else (row["root"] or "not found")
            cats = "" if row["categories_present"] is None else \
                f" ({row['categories_present']}/{row['categories_expected']} categories)"
            print(f"{row['name']:18} {where}{cats}" + (f"  ERROR: {row['error']}" if row.get("error") else ""))
        return 0
    if action == "info":
        print(json.dumps(info(args.name), indent=2))
        return 0
    if action == "verify":
        root = _resolve_root(args.name, getattr(args, "root", None), data_root)
        problems = verify(args.name, root, progress=lambda c: print(f"checking {c} ...", flush=True))
        for p in problems:
            print(p)
        print(f"{args.name} at {root}: " + (f"{len(problems)} problem(s)" if problems else "ok"))
        return 1 if problems else 0
    if action == "prepare":
        result = prepare(args.name, getattr(args, "root", None), data_root)
        print(json.dumps(result, indent=2))
        return 1 if result["problems"] else 0
    raise UsageError(f"unknown datasets action {action!r}")
