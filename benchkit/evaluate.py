"""Score anomaly maps made outside benchkit against a dataset's ground truth (``benchkit evaluate``).

The maps folder mirrors the official MVTec 3D-AD evaluation layout, one file per test sample of the dataset reader:

- organized datasets (MVTec 3D-AD, Eyecandies, synthetic-rgbd): ``<maps>/<category>/test/<sample id>.tiff``, a 2-D
  float map, e.g. ``<maps>/bagel/test/crack/000.tiff`` (MVTec 3D-AD ids are ``<defect>/<stem>``; Eyecandies ids are
  the sample prefix, ``000``). The map has the test sample's original size or the dataset's evaluation size;
  like `benchkit run`, the map is resized bilinearly and the ground truth nearest to the evaluation size
  (`Dataset.eval_size`, 224 x 224 for the real datasets) before scoring.
- point-cloud datasets (Real3D-AD, Anomaly-ShapeNet, synthetic-pc): ``<maps>/<category>/test/<sample id>.txt``, e.g.
  ``<maps>/airplane/test/3_bulge.txt``, either one score per line or rows ``x y z score`` (whitespace or commas).
  Scores follow the order of the points the dataset reader yields for that cloud: for an anomalous cloud that is the
  order of its ground-truth file (as in the reference loaders), for a normal one that of its PCD.

The object score of a sample is the maximum of its map (the official MVTec 3D-AD evaluation and the Real3D-AD
PatchCore baselines do this). Only categories that have a folder under ``<maps>`` are scored; metrics, counts, the
mean over categories and the records themselves come from the same scoring step as `benchkit run`, so an evaluated
record reads like a run record.

Evaluated records keep their own identity: detector version ``external``, a ``--name`` that is a plain identifier
and no registered detector's name (the maps are not that detector's run), a registered ``--setting``, and a place
of their own, ``<results>/external/<dataset>/<setting>/<name>/``. A record there that ``evaluate`` did not write is
never replaced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchkit.answers import JobScore
from benchkit.datasets import Dataset
from benchkit.errors import DataError, PluginError, UsageError
from benchkit.jobs import ALL, Job, ids_digest, jsonable, record_path
from benchkit.plugins import Registry, get_registry
from benchkit.sample import Sample, SampleRef
from benchkit.scoring import ScoredSamples, sample_counts, score_metrics
from benchkit.settings import Plan

MAP_SUFFIX = {True: ".tiff", False: ".txt"}  # organized -> TIFF, per-point -> text
EXTERNAL = "external"  # the detector version of evaluated records, and the results subfolder they live in
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def map_path(maps: Path, ref: SampleRef, organized: bool) -> Path:
    """Where the anomaly map of a test sample is expected."""
    return Path(maps) / ref.category / "test" / f"{ref.id}{MAP_SUFFIX[organized]}"


def read_organized_map(path: Path, sample: Sample, eval_size: tuple[int, int] | None) -> np.ndarray:
    """A 2-D float32 map of the sample's original size (or the evaluation size). Raises DataError naming the file."""
    import tifffile

    _require(path)
    try:
        values = np.asarray(tifffile.imread(path), dtype=np.float32)
    except Exception as exc:  # tifffile raises several types for damaged files
        raise DataError(path, f"cannot read the anomaly map as TIFF ({exc})",
                        "write a single-channel float TIFF, e.g. tifffile.imwrite(path, map.astype('float32'))") from exc
    if values.ndim == 3 and 1 in (values.shape[0], values.shape[-1]):
        values = values.reshape(values.shape[1:] if values.shape[0] == 1 else values.shape[:-1])
    accepted = {tuple(sample.map_shape)} | ({tuple(eval_size)} if eval_size else set())
    if values.shape not in accepted:
        sizes = " or ".join("x".join(map(str, s)) for s in sorted(accepted))
        raise DataError(path, f"anomaly map has shape {values.shape}, expected {sizes}",
                        "save one single-channel map per test sample at the test image's size")
    _check_finite(path, values)
    return values


def read_point_scores(path: Path, n_points: int) -> np.ndarray:
    """Per-point scores from a text file: one score per line, or rows ``x y z score`` (whitespace or commas)."""
    _require(path)
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
        delimiter = "," if "," in first else None
        table = np.loadtxt(path, delimiter=delimiter, ndmin=2, dtype=np.float64, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not a text file of numbers (byte {exc.start} is not UTF-8)",
                        "write one number per line, or rows 'x y z score', as plain text") from None
    except ValueError as exc:
        raise DataError(path, f"cannot parse the point scores ({exc})",
                        "write one number per line, or rows 'x y z score'") from exc
    if table.shape[1] not in (1, 4):
        raise DataError(path, f"rows have {table.shape[1]} columns", "write one score per line or rows 'x y z score'")
    scores = table[:, -1].astype(np.float32)
    if len(scores) != n_points:
        raise DataError(path, f"anomaly map has {len(scores)} scores but the test cloud has {n_points} points",
                        "write one score per point, in the order the dataset reader yields the points")
    _check_finite(path, scores)
    return scores


def _require(path: Path) -> None:
    if not path.is_file():
        raise DataError(path, "anomaly map missing for this test sample",
                        "write one map per test sample: <maps>/<category>/test/<sample id>.tiff (organized) or "
                        ".txt (point clouds)")


def _check_finite(path: Path, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        kind = "NaN" if np.isnan(values).any() else "infinite"
        raise DataError(path, f"anomaly map contains {kind} values ({int(bad.sum())} of {values.size})",
                        "write finite scores")


def open_copy(dataset: str, root: Path | None, registry: Registry | None = None) -> Dataset:
    """The named dataset's reader on ``root``, the folder of one copy laid out as the original download (as for
    ``benchkit datasets verify``). Embedded datasets may pass None: their generated copy in the cache is used (and
    generated first if needed). The registry raises a clear error for an unknown name."""
    spec = (registry or get_registry()).get("datasets", dataset)
    if root is None:
        if not spec.embedded:
            raise DataError(None, f"dataset {dataset}: no root given", "pass the folder holding the original download")
        root = spec.root()
    reader = spec.open(Path(root))
    if spec.embedded:
        reader.prepare()
    if not reader.is_available():
        raise DataError(root, f"no copy of dataset {dataset} here", "pass the folder holding the original download")
    return reader


def score_category(reader: Dataset, category: str, maps: Path, scored: ScoredSamples) -> None:
    """Add one category's object scores, maps and ground truth to ``scored`` through the shared scoring step."""
    refs = reader.index(category, "test")
    if not refs:
        raise DataError(Path(reader.root) / category, "no test samples in this category", "check the data root")
    for ref in refs:
        sample = reader.load(ref)
        if sample.label is None:
            raise DataError(Path(reader.root) / category, f"test sample {ref.id} has no label",
                            "unlabelled splits cannot be scored")
        path = map_path(maps, ref, sample.organized)
        if sample.organized:
            values = read_organized_map(path, sample, reader.eval_size)
        else:
            values = read_point_scores(path, sample.map_shape[0])
        scored.add(sample, category, float(values.max()), values, reader.eval_size)


def _require_folder(maps: Path) -> None:
    if not Path(maps).is_dir():
        raise DataError(maps, "maps folder not found", "pass the folder holding <category>/test/... anomaly maps")


def _categories_with_maps(reader: Dataset, maps: Path, name: str) -> list[str]:
    """The dataset's categories that have a folder under ``maps``; any other folder, or none, is a DataError."""
    maps = Path(maps)
    known = set(reader.categories())
    present = sorted(p.name for p in maps.iterdir() if p.is_dir())
    unknown = [c for c in present if c not in known]
    if unknown:
        raise DataError(maps / unknown[0], f"detector {name}: category folder {unknown[0]!r} is not a category of "
                                           f"{reader.name} at {reader.root}",
                        f"known categories: {', '.join(sorted(known))}")
    if not present:
        raise DataError(maps, f"detector {name}: no category folders",
                        f"lay maps out as <maps>/<category>/test/<sample id>; categories: {', '.join(sorted(known))}")
    return present


def _score_maps(reader: Dataset, categories: Sequence[str], maps: Path) -> ScoredSamples:
    scored = ScoredSamples()
    for category in categories:
        score_category(reader, category, Path(maps), scored)
    return scored


def _plan(reader: Dataset, categories: list[str], category: str) -> Plan:
    return Plan(category=category, train=[r for c in categories for r in reader.index(c, "train")],
                test=[r for c in categories for r in reader.index(c, "test")])


def evaluate_maps(dataset: str, root: Path | None, maps: Path, name: str,
                  metrics: Sequence[str] | None = None) -> tuple[dict, dict]:
    """Metrics per category (plus ``mean`` when several, as in run records) and counts per category (`Counts`) of
    the maps of detector ``name`` under ``maps``, for dataset ``dataset`` at ``root`` (see `open_copy`), computed in
    this process.

    Metrics and counts come from the shared scoring step, so they match what `benchkit run` records.
    """
    _require_folder(maps)
    reader = open_copy(dataset, root)
    present = _categories_with_maps(reader, maps, name)
    scored = _score_maps(reader, present, maps)
    return score_metrics(scored, metrics), sample_counts(_plan(reader, present, ALL), scored)


def score_groups(registry: Registry, dataset: str, root: str, maps: str, groups: list[tuple[list[str], str]],
                 metrics: Sequence[str] | None, seed: int) -> list[JobScore]:
    """Runs in the answer process (`Answers.run`): one `JobScore` per (categories, record category) group, from the
    maps and the dataset's answers, loaded only here."""
    reader = open_copy(dataset, Path(root), registry)
    scored = _score_maps(reader, [c for categories, _ in groups for c in categories], Path(maps))
    return [JobScore.of(_plan(reader, categories, category), scored.subset(categories), metrics, seed)
            for categories, category in groups]


def check_identity(name: str, setting: str) -> None:
    """Refuse a ``--name`` that is not a plain identifier or that names a registered detector, and a ``--setting``
    that is not registered (UsageError naming the option and the fix)."""
    registry = get_registry()
    if not _PLAIN_NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: give a plain identifier (letters, digits and . _ + -, at most 64, "
                         f"starting with a letter or digit), e.g. my-detector")
    base = name.partition(":")[0]
    if base in registry.detectors:
        raise UsageError(f"--name {name}: that is a registered detector, whose records come from `benchkit run`; "
                         f"name the method that made these maps differently, e.g. {name}-external")
    try:
        registry.get("settings", setting.partition(":")[0]).build(setting)
    except (PluginError, UsageError) as exc:
        raise UsageError(f"--setting {setting}: {exc}") from None


def external_record_path(results: Path, dataset: str, setting: str, name: str, category: str, seed: int) -> Path:
    """Where an evaluated record goes: under ``<results>/external/``, apart from every run record."""
    return record_path(Path(results) / EXTERNAL, dataset, setting, name, category, seed, version=EXTERNAL)


def _refuse_foreign(paths: list[Path]) -> None:
    """A file at a record path that this command did not write (not a readable external record) stays."""
    from benchkit.validation import check_file

    for path in paths:
        if path.exists():
            check = check_file(path, strict=False)
            if check.record is None or check.record.job.detector_version != EXTERNAL:
                raise DataError(path, "a file that `benchkit evaluate` did not write is in the way; it is kept",
                                "choose another --name or --results, or move the file")


def write_records(dataset: str, root: Path | None, maps: Path, name: str, *, setting: str = "one-model-one-class",
                  results: Path, seed: int = 0, metrics: Sequence[str] | None = None) -> list[Path]:
    """Score the maps and write result records like `benchkit run` does: one per category for the
    one-model-one-class setting, else one record for all categories (``category: "all"``). The detector version is
    recorded as ``external``, the config names the maps folder, and the records go to `external_record_path`.
    Scoring runs where `run` scores (`benchkit.answers.answers_for`): in the answer process, which imports no
    detector plugin, when the dataset's plugin can be imported by name; the records say where
    (``provenance.scored_in``). Returns the record paths."""
    from benchkit import __version__
    from benchkit.answers import answers_for
    from benchkit.driver import make_record
    from benchkit.results import config_hash, write_record

    check_identity(name, setting)
    started = time.perf_counter()
    _require_folder(maps)
    reader = open_copy(dataset, root)
    present = _categories_with_maps(reader, maps, name)
    per_category = setting.split(":")[0] == "one-model-one-class"
    groups = [([c], c) for c in present] if per_category else [(present, ALL)]
    _refuse_foreign([external_record_path(results, dataset, setting, name, c, seed) for _, c in groups])
    answers = answers_for(get_registry(), [dataset], isolate=True)
    try:
        scores = answers.run(score_groups, dataset, str(Path(reader.root).resolve()), str(Path(maps).resolve()),
                             groups, metrics, seed)
    finally:
        answers.close()
    paths = []
    for (categories, category), score in zip(groups, scores):
        plan = _plan(reader, categories, category)
        config = {
            "detector": {"name": name, "version": EXTERNAL, "maps": str(Path(maps).resolve()),
                         "evaluated_by": f"benchkit {__version__} evaluate"},
            "dataset": {"name": reader.name, "version": reader.version, "options": jsonable(reader.config()),
                        "eval_size": reader.eval_size},
            "setting": {"name": setting},
            "category": category,
            "seed": seed,
            "train_ids": ids_digest(plan.train),
            "test_ids": ids_digest(plan.test),
        }
        if metrics is not None:
            config["metrics"] = list(metrics)
        path = external_record_path(results, dataset, setting, name, category, seed)
        job = Job(detector=name, dataset=dataset, setting=setting, seed=seed, plan=plan,
                  dataset_root=str(reader.root), data_root=None, dataset_options={}, detector_params={}, config=config,
                  config_hash=config_hash(config), record_path=str(path), executor="none", metrics=metrics,
                  incomplete=not per_category and bool(set(reader.expected_categories()) - set(categories)))
        record = make_record(job, "ok", counts=score.counts, metrics=score.metrics, intervals=score.intervals,
                             samples=score.samples, duration_seconds=time.perf_counter() - started,
                             scored_in=answers.where)
        write_record(record, path)
        paths.append(path)
    return paths


def cli(args, results: Path) -> int:
    """``benchkit evaluate --dataset NAME --root DATA --maps DIR --name DETECTOR [--setting S] [--results DIR]``:
    write the records and print one line per category. Bad input raises `DataError` (the CLI prints it)."""
    from benchkit.results import load_record

    paths = write_records(args.dataset, args.root, args.maps, args.name, setting=getattr(args, "setting", None)
                          or "one-model-one-class", results=results, seed=getattr(args, "seed", None) or 0,
                          metrics=getattr(args, "metrics", None))
    for path in paths:
        record = load_record(path)
        for category, values in record.metrics.items():
            shown = "  ".join(f"{k}={'-' if v is None else f'{v:.4f}'}" for k, v in values.items())
            print(f"{args.name} {args.dataset}/{category}: {shown}")
        print(f"  record: {path}")
    return 0
