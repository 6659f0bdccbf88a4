"""The result record: one JSON file per job, validated by pydantic with extra fields forbidden.

Old records keep loading: `load_record` upgrades them step by step through `MIGRATIONS` before validation.
Records are written atomically (temporary file in the same folder, fsync, rename), so an interrupted run never
leaves a partial JSON behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchkit.errors import BenchkitError

SCHEMA_VERSION = 2
Status = Literal["ok", "failed", "skipped"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobInfo(_Strict):
    detector: str = Field(description="Detector name as run, with backbone variant: 'sedir:fpfh'")
    detector_version: str
    dataset: str
    dataset_version: str
    setting: str = Field(description="Setting with its argument: 'few-shot:5'")
    category: str = Field(description="Evaluated category, or 'all' for one model evaluated on every category")
    seed: int
    config: dict[str, Any] = Field(description="Everything that determines the result: detector, dataset, setting")
    config_hash: str


class ErrorInfo(_Strict):
    type: str
    message: str
    traceback: str | None = None


class Counts(_Strict):
    train: int
    test_normal: int
    test_anomalous: int


class Efficiency(_Strict):
    fit_seconds: float | None = Field(None, description="Wall time of fit()")
    predict_seconds: float | None = Field(None, description="Wall time of predicting all timed test samples")
    latency_ms_median: float | None = Field(None, description="Median per-sample predict time after warm-up")
    latency_ms_p95: float | None = None
    latency_ms_iqr: float | None = None
    throughput_per_s: float | None = Field(None, description="Timed samples / predict_seconds")
    timed_samples: int = 0
    warmup_samples: int = 0
    peak_rss_mb: float | None = Field(None, description="Peak resident memory of the job's process")
    baseline_rss_mb: float | None = Field(None, description="Resident memory before the job loaded data: the "
                                                             "harness's own (interpreter and preloaded libraries)")
    job_rss_mb: float | None = Field(None, description="peak_rss_mb - baseline_rss_mb: the memory the job itself "
                                                        "added (data, detector, its imports); the leaderboard's column")
    peak_gpu_mb: float | None = Field(None, description="torch.cuda.max_memory_allocated, GPU jobs only")
    parameters: int | None = Field(None, description="Parameters of the detector's torch modules")
    memory_bank_bytes: int | None = None
    flops_per_sample: float | None = Field(None, description="FLOPs of one predict() call on one sample")
    flops_counter: str | None = Field(None, description="What counted the FLOPs and what it leaves out")
    rss_isolated: bool = Field(True, description="False when the job shared its process with others")
    backbone_flops_per_sample: float | None = Field(
        None, description="Part of flops_per_sample spent in frozen backbones (counted as if uncached)")
    head_flops_per_sample: float | None = Field(None, description="flops_per_sample minus backbone_flops_per_sample")
    feature_cache: Literal["on", "off"] | None = Field(None, description="Whether the feature cache was on")
    feature_seconds_computed: float | None = Field(None, description="Frozen-feature seconds computed in this job")
    feature_seconds_reused: float | None = Field(
        None, description="Stored compute seconds of reused cache entries; added back to the predict timings")
    feature_entries_computed: int | None = None
    feature_entries_reused: int | None = None


class PluginRef(_Strict):
    """A plugin distribution as installed: its name, version and public source (from the package metadata)."""

    distribution: str
    version: str
    source: str | None = Field(None, description="Source URL the distribution declares (Project-URL / Home-page)")


class Provenance(_Strict):
    python: str
    platform: str
    cpu: str
    threads: int
    device: str
    executor: str
    packages: dict[str, str]
    git_commit: str | None = None
    git_dirty: bool | None = None
    timestamp: str
    detector_plugin: PluginRef | None = Field(
        None, description="The installed distribution that registered the detector (what a submission must name)"
    )
    scored_in: Literal["isolated", "driver"] | None = Field(
        None, description="Where the metrics were computed: a process importing only the dataset's plugins, or the "
                          "driver's own (inline executor); None for records that do not say"
    )


class BackboneUse(_Strict):
    """A backbone the job built through `benchkit.build_backbone`, as the harness resolved its weights."""

    name: str
    version: str
    kind: str
    weights: Literal["none", "pretrained", "random-init"]
    path: str | None = Field(None, description="Weights file loaded (pretrained only)")
    sha256: str | None = Field(None, description="SHA-256 of that file")


class SampleScore(_Strict):
    id: str
    category: str
    label: int
    score: float


class Record(_Strict):
    schema_version: int = SCHEMA_VERSION
    benchkit_version: str
    job: JobInfo
    status: Status
    error: ErrorInfo | None = None
    weights: Literal["none", "pretrained", "random-init"] | None = Field(
        None, description="Decided by the harness from `backbones`: 'random-init' when a backbone that should be "
                          "pretrained was not (not the paper's numbers), 'pretrained', or 'none' (no weights needed)"
    )
    backbones: list[BackboneUse] = Field(default_factory=list, description="Backbones built, with their weights")
    incomplete: bool = Field(False, description="The dataset copy lacked categories of the full benchmark")
    counts: dict[str, Counts] = Field(default_factory=dict)
    metrics: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="Per category (and 'mean' when several): metric name to value"
    )
    efficiency: Efficiency = Field(default_factory=Efficiency)
    provenance: Provenance
    samples: list[SampleScore] = Field(default_factory=list, description="Object score of every test sample")
    intervals: dict[str, dict[str, list[float]]] = Field(
        default_factory=dict,
        description="Optional 95 % bootstrap intervals per category and metric, [lo, hi] (benchkit.stats)",
    )
    duration_seconds: float | None = None


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 gave ``zero-shot-one-vs-rest`` the papers' meaning (train on one category, test on the others);
    what version 1 ran under that name (train on every other category) is now ``zero-shot-leave-one-out``.
    Version 2 also added ``backbones`` (optional, empty for old records)."""
    old, new = "zero-shot-one-vs-rest", "zero-shot-leave-one-out"
    job = data.get("job")
    if isinstance(job, dict) and job.get("setting") == old:
        job["setting"] = new
        setting = job.get("config", {}).get("setting") if isinstance(job.get("config"), dict) else None
        if isinstance(setting, dict) and setting.get("name") == old:
            setting["name"] = new
            job["config_hash"] = config_hash(job["config"])  # the hash always matches the config it names
    return data


# Migrations: MIGRATIONS[v] turns a version-v record (a dict) into a version v+1 one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


class RecordError(BenchkitError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid result record:\n" + "\n".join(f"  - {p}" for p in problems))


def migrate(data: dict[str, Any], source: str = "<record>") -> dict[str, Any]:
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise RecordError(source, ["schema_version: missing or not an integer"])
    if version > SCHEMA_VERSION:
        raise RecordError(source, [f"schema_version {version} is newer than this benchkit ({SCHEMA_VERSION}); upgrade"])
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise RecordError(source, [f"no migration from schema_version {version}"])
        data = MIGRATIONS[version](dict(data))
        version = data["schema_version"] = version + 1
    return data


def parse_record(data: dict[str, Any], source: str = "<record>") -> Record:
    """Validate (after migrating) a record given as a dict; every problem is listed in the error."""
    try:
        return Record.model_validate(migrate(data, source))
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        raise RecordError(source, problems) from None


def load_record(path: str | Path) -> Record:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(str(path), ["file not found"]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(str(path), [f"not JSON: {exc}"]) from None
    if not isinstance(data, dict):
        raise RecordError(str(path), ["top level must be a JSON object"])
    return parse_record(data, str(path))


def iter_records(results_dir: str | Path) -> Iterator[tuple[Path, Record]]:
    """Every record under a results folder, schema-checked (the site folder and hidden files excluded). JSON files
    that are not shaped like records (no ``schema_version`` and ``job``, e.g. a thumbnail index) are passed over;
    an invalid record raises `RecordError`. `benchkit.validation.scan_results` checks strictly and never raises."""
    from benchkit.validation import looks_like_record

    root = Path(results_dir)
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root).parts
        if rel[:1] == ("site",) or any(part.startswith(".") for part in rel):
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise RecordError(str(path), [f"not readable JSON ({type(exc).__name__}); `benchkit validate` says "
                                          f"more"]) from None
        if looks_like_record(data):
            yield path, parse_record(data, str(path))


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON so that readers see either the old file or the complete new one, never a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(record: Record, path: str | Path) -> None:
    write_json_atomic(path, record.model_dump(mode="json"))


def json_schema() -> dict[str, Any]:
    return Record.model_json_schema()


def config_hash(config: dict[str, Any]) -> str:
    """Stable hash of a job config (canonical JSON, sorted keys)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
