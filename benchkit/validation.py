"""Strict checks of result records: what the schema alone cannot catch.

`benchkit.results` checks a record's shape (fields, types, the schema version). A record can pass that and still be
wrong: a NaN or a metric of 7.5, ``status: ok`` with an error and no metrics, a ``config_hash`` that is not the hash
of the config beside it, metrics that its own per-sample scores do not reproduce. `check_record` finds all of it and
never raises, whatever the JSON holds (any shape, any depth). `benchkit validate` runs it (strict by default), the
leaderboard leaves out records that fail it, and `validate --submission` builds on it.

- `read_json(path)`: a file's JSON, or the problems that stop it being read (not UTF-8, not JSON, NaN / Infinity,
  duplicate keys, nesting deeper than `MAX_DEPTH`).
- `check_record(data)`: every problem of one record given as parsed JSON.
- `check_file(path)` / `scan_results(folder)`: the same for files, one `FileCheck` each; a JSON file that is not
  shaped like a record at all (no ``schema_version`` and ``job``) is marked ``is_record=False`` so callers can skip
  it with a warning instead of failing.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Deeper JSON than this is refused before parsing (a real record nests about 6 levels; Python's parser and pydantic
#: recurse and would hit the interpreter's recursion limit on a hostile file).
MAX_DEPTH = 64
#: Absolute tolerance when object-level metrics are recomputed from a record's per-sample scores (both sides are
#: the same exact computation on the same floats, so only JSON float round-off separates them).
RECOMPUTE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a record: where (a dotted path into the JSON, "" for the whole file) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class FileCheck:
    """The result of checking one file; ``record`` is the parsed record when the schema accepted it."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    record: Any = None  # benchkit.results.Record | None
    is_record: bool = True

    @property
    def ok(self) -> bool:
        return self.is_record and not self.problems


# -- reading -----------------------------------------------------------------------------------------------------------
class _Refused(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number (JSON has no NaN or Infinity; write null for a missing value)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text, counted outside strings without recursing."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def read_json(path: str | Path) -> tuple[Any, list[Problem]]:
    """The parsed JSON of a file, or (None, problems) when it cannot be read as strict JSON."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem("", f"cannot read the file ({exc.strerror or exc})")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem("", f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); records "
                                  f"are UTF-8 JSON")]
    deepest = _depth(text)
    if deepest > MAX_DEPTH:
        return None, [Problem("", f"JSON nested {deepest} levels deep; a record nests at most {MAX_DEPTH}")]
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys), []
    except _Refused as exc:
        return None, [Problem("", f"not strict JSON: {exc}")]
    except json.JSONDecodeError as exc:
        return None, [Problem("", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except RecursionError:
        return None, [Problem("", "JSON nested too deeply to parse")]


def looks_like_record(data: Any) -> bool:
    """Whether parsed JSON is meant as a result record (other JSON under a results folder is not one)."""
    return isinstance(data, dict) and "schema_version" in data and "job" in data


# -- checking ----------------------------------------------------------------------------------------------------------
def check_record(data: Any, *, strict: bool = True) -> list[Problem]:
    """Every problem of one record given as parsed JSON (a dict): schema first; with ``strict`` (the default) also
    its content. Never raises; an empty list means the record is valid."""
    record, problems = _parse(data)
    if record is None or not strict:
        return problems
    return problems + content_problems(record, raw=data)


def _parse(data: Any) -> tuple[Any, list[Problem]]:
    from benchkit.results import RecordError, parse_record

    if not isinstance(data, dict):
        return None, [Problem("", f"a record is a JSON object, got {_json_type(data)}")]
    problems = _walk(data)
    if problems:
        return None, problems
    try:
        return parse_record(copy.deepcopy(data)), []  # migrations may edit the dict they get
    except RecordError as exc:
        return None, [Problem(*_split(p)) for p in exc.problems]
    except (RecursionError, TypeError, ValueError, AttributeError) as exc:  # a migration met a shape it did not expect
        return None, [Problem("", f"cannot read as a record ({type(exc).__name__}: {exc})")]


def _split(problem: str) -> tuple[str, str]:
    where, sep, message = problem.partition(": ")
    return (where, message) if sep and " " not in where else ("", problem)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _walk(data: Any) -> list[Problem]:
    """Non-finite numbers anywhere, and nesting past `MAX_DEPTH` (iterative: safe on any depth)."""
    problems: list[Problem] = []
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(Problem(where, f"nested deeper than {MAX_DEPTH} levels"))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(where, f"{value} is not a finite number"))
        elif isinstance(value, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v, depth + 1) for i, v in enumerate(value))
    return sorted(problems, key=lambda p: p.where)


def content_problems(record: Any, raw: dict[str, Any] | None = None) -> list[Problem]:
    """What a schema-valid `Record` gets wrong: identity, status, metrics, counts, samples, intervals, efficiency.

    ``raw`` is the JSON it was parsed from, checked for a config hash before any migration rewrote it. The records'
    own ``mean`` entries are not compared with their categories: no consumer reads them (`benchkit.aggregate`
    recomputes means over complete categories).
    """
    problems = _identity(record, raw)
    problems += _status(record)
    problems += _metric_values(record)
    problems += _counts_and_samples(record)
    problems += _intervals(record)
    problems += _efficiency(record)
    problems += _weights(record)
    return problems


def _weights(record: Any) -> list[Problem]:
    """The record's weights kind must be what its backbones say (random init wins over pretrained over none): a
    record cannot claim pretrained weights its harness did not load."""
    if not record.backbones:
        return []
    kinds = {b.weights for b in record.backbones}
    expected = next((k for k in ("random-init", "pretrained") if k in kinds), "none")
    if record.weights != expected:
        return [Problem("weights", f"{record.weights!r}, but the backbones it built say {expected!r} "
                                   f"({', '.join(f'{b.name}: {b.weights}' for b in record.backbones)})")]
    return []


def _identity(record: Any, raw: dict[str, Any] | None) -> list[Problem]:
    from benchkit.results import config_hash

    job = record.job
    out = []
    raw_job = raw.get("job") if isinstance(raw, dict) else None
    raw_config = raw_job.get("config") if isinstance(raw_job, dict) else None
    if isinstance(raw_config, dict) and raw_job.get("config_hash") != config_hash(raw_config):
        out.append(Problem("job.config_hash", f"{raw_job.get('config_hash')!r} is not the hash of job.config "
                                              f"({config_hash(raw_config)}): the record was edited after it was "
                                              f"written"))
    elif job.config_hash != config_hash(job.config):
        out.append(Problem("job.config_hash", f"{job.config_hash!r} is not the hash of job.config "
                                              f"({config_hash(job.config)})"))
    config = job.config
    pairs = [("detector", ("detector", "name")), ("detector_version", ("detector", "version")),
             ("dataset", ("dataset", "name")), ("dataset_version", ("dataset", "version")),
             ("setting", ("setting", "name")), ("seed", ("seed",)), ("category", ("category",))]
    for name, keys in pairs:
        value: Any = config
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and value != getattr(job, name):
            out.append(Problem(f"job.{name}", f"{getattr(job, name)!r} but job.config.{'.'.join(keys)} says "
                                              f"{value!r}"))
    return out


def _status(record: Any) -> list[Problem]:
    out = []
    categories = [c for c in record.metrics if c != "mean"]
    if record.status == "ok":
        if record.error is not None:
            out.append(Problem("error", f"status is ok but an error is recorded ({record.error.type})"))
        if not categories:
            out.append(Problem("metrics", "status is ok but there are no metrics"))
        for cat in categories:
            if record.metrics[cat] and all(v is None for v in record.metrics[cat].values()):
                out.append(Problem(f"metrics.{cat}", "every metric is null: the test split needs both normal and "
                                                     "anomalous samples"))
        if not record.counts:
            out.append(Problem("counts", "status is ok but no sample counts are recorded"))
        for cat in sorted(set(categories) ^ set(record.counts)):
            where = "counts" if cat in categories else "metrics"
            out.append(Problem(f"{where}.{cat}", f"category {cat!r} has "
                                                 f"{'metrics' if cat in categories else 'counts'} but no {where}"))
    else:
        if record.error is None or not record.error.message.strip():
            out.append(Problem("error", f"status is {record.status} but no reason is recorded"))
        if record.metrics:
            out.append(Problem("metrics", f"status is {record.status} but metrics are recorded"))
        if record.samples:
            out.append(Problem("samples", f"status is {record.status} but sample scores are recorded"))
    return out


def _known_metric(name: str) -> bool:
    from benchkit.metrics import OBJECT_METRICS, PIXEL_METRICS, parse_aupro

    try:
        return name in OBJECT_METRICS or name in PIXEL_METRICS or parse_aupro(name) is not None
    except ValueError:
        return False


def _metric_values(record: Any) -> list[Problem]:
    out = []
    for cat, values in record.metrics.items():
        for name, value in values.items():
            where = f"metrics.{cat}.{name}"
            if not _known_metric(name):
                out.append(Problem(where, "not a benchkit metric (see benchkit.metrics)"))
            elif value is not None and not 0.0 <= value <= 1.0:
                out.append(Problem(where, f"{value} is outside [0, 1]"))
    return out


def _counts_and_samples(record: Any) -> list[Problem]:
    out = []
    for cat, counts in record.counts.items():
        for name in ("train", "test_normal", "test_anomalous"):
            if getattr(counts, name) < 0:
                out.append(Problem(f"counts.{cat}.{name}", f"{getattr(counts, name)} is negative"))
        if record.status == "ok" and (counts.test_normal == 0 or counts.test_anomalous == 0):
            out.append(Problem(f"counts.{cat}", f"{counts.test_normal} normal and {counts.test_anomalous} anomalous "
                                                f"test samples: the metrics need both"))
    if not record.samples:
        return out
    by_cat: dict[str, list[Any]] = {}
    for s in record.samples:
        by_cat.setdefault(s.category, []).append(s)
    for cat, samples in sorted(by_cat.items()):
        if cat not in record.counts:
            out.append(Problem("samples", f"samples of category {cat!r}, which has no counts"))
            continue
        bad = sorted({s.label for s in samples} - {0, 1})
        if bad:
            out.append(Problem("samples", f"labels {bad} in category {cat!r}; labels are 0 or 1"))
            continue
        ids = [s.id for s in samples]
        if len(set(ids)) != len(ids):
            out.append(Problem("samples", f"category {cat!r} lists a sample id twice"))
        normal = sum(s.label == 0 for s in samples)
        counts = record.counts[cat]
        if (normal, len(samples) - normal) != (counts.test_normal, counts.test_anomalous):
            out.append(Problem(f"counts.{cat}", f"{counts.test_normal} normal / {counts.test_anomalous} anomalous, "
                                                f"but the samples hold {normal} / {len(samples) - normal}"))
        out += _recomputed(record, cat, samples)
    return out


def _recomputed(record: Any, cat: str, samples: list[Any]) -> list[Problem]:
    """Object-level metrics recomputed from the per-sample scores must equal the recorded ones."""
    from benchkit.metrics import auroc, average_precision

    labels = [s.label for s in samples]
    scores = [s.score for s in samples]
    out = []
    for name, metric in (("i_auroc", auroc), ("i_aupr", average_precision)):
        recorded = record.metrics.get(cat, {}).get(name, "absent")
        if recorded == "absent":
            continue
        value = metric(labels, scores)
        same = value is None and recorded is None or (
            value is not None and recorded is not None and abs(value - recorded) <= RECOMPUTE_TOLERANCE)
        if not same:
            out.append(Problem(f"metrics.{cat}.{name}", f"recorded {recorded} but the record's own sample scores "
                                                        f"give {value}"))
    return out


def _intervals(record: Any) -> list[Problem]:
    out = []
    for cat, per_metric in record.intervals.items():
        for name, bounds in per_metric.items():
            where = f"intervals.{cat}.{name}"
            if len(bounds) != 2:
                out.append(Problem(where, f"an interval is [lo, hi], got {len(bounds)} values"))
            elif not 0.0 <= bounds[0] <= bounds[1] <= 1.0:
                out.append(Problem(where, f"{bounds} is not an interval within [0, 1]"))
            if name not in record.metrics.get(cat, {}):
                out.append(Problem(where, "an interval for a metric the record does not report"))
    return out


def _efficiency(record: Any) -> list[Problem]:
    out = []
    for name, value in record.efficiency.model_dump().items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            out.append(Problem(f"efficiency.{name}", f"{value} is negative"))
    if record.duration_seconds is not None and record.duration_seconds < 0:
        out.append(Problem("duration_seconds", f"{record.duration_seconds} is negative"))
    return out


# -- files -------------------------------------------------------------------------------------------------------------
def check_file(path: str | Path, *, strict: bool = True) -> FileCheck:
    """Read and check one file; never raises."""
    path = Path(path)
    data, problems = read_json(path)
    if problems:
        return FileCheck(path, problems)
    if not looks_like_record(data):
        return FileCheck(path, [Problem("", "not a result record (no 'schema_version' and 'job' fields)")],
                         is_record=False)
    record, problems = _parse(data)
    if record is not None and strict:
        problems = content_problems(record, raw=data)
    return FileCheck(path, problems, record=record)


def scan_results(results_dir: str | Path, *, strict: bool = True) -> Iterator[FileCheck]:
    """`check_file` for every ``*.json`` under a results folder, in path order (the ``site`` folder excluded)."""
    root = Path(results_dir)
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root).parts
        if rel[:1] == ("site",) or any(part.startswith(".") for part in rel):
            continue
        yield check_file(path, strict=strict)
