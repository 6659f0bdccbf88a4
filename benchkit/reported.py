"""Numbers reported in the source papers, kept beside (never mixed with) the numbers benchkit measured.

One JSON file per paper; each holds tables transcribed from the paper, with the paper's metric names mapped to
benchkit's and values as printed (``scale`` says percent or fraction; `reported_rows` turns everything into
fractions like the records). What the schema enforces, so that reported and reproduced numbers are compared like
with like:

- AU-PRO is stored only under a legacy name (``aupro@0.3/legacy100``, ``/legacy99``): papers compute it with the
  quantile-threshold utility, whose value depends on the threshold count, never with benchkit's exact one. A table
  with AU-PRO says in ``aupro_utility`` which utility each row's numbers come from and how we know.
- A row's setting is the protocol its numbers were obtained under (a class-specific baseline copied into a
  unified table stays ``one-model-one-class``).
- Efficiency numbers (FPS, memory) come with the paper's ``hardware``.
- A printed mean that differs from the mean of its printed categories by more than `MEAN_TOLERANCE_POINTS` must be
  listed in the entry's ``mean_differs``: the file then states the paper's own inconsistency, and any other
  difference is a transcription error that fails validation. `reported_rows` gives the recomputed mean beside it.
- Ablation tables (``kind: "ablation"``) give each row's ``configuration`` as printed (None where the text version
  of the paper lost which box was ticked) and, where known, the benchkit detector ``params`` that reproduce it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from benchkit.errors import DataError
from benchkit.metrics import parse_aupro

PLAIN_METRICS = frozenset({"i_auroc", "i_aupr", "p_auroc", "p_aupr"})
EFFICIENCY = frozenset({"throughput_per_s", "memory_mb"})
#: A printed mean may differ from the mean of its printed categories by this many percentage points (rounding).
MEAN_TOLERANCE_POINTS = 0.1
_SETTING = re.compile(r"^(one-model-one-class|unified|unified-agnostic|few-shot:\d+|zero-shot-one-vs-rest|"
                      r"zero-shot-leave-one-out|zero-shot-cross-dataset(:[a-z0-9-]+)?)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_metric(name: str) -> None:
    if name in PLAIN_METRICS:
        return
    parsed = parse_aupro(name) if name.startswith("aupro@") else None
    if parsed is None:
        raise ValueError(f"unknown metric {name!r}; use {sorted(PLAIN_METRICS)} or aupro@<limit>/legacy<count>")
    if parsed.count is None:
        raise ValueError(f"metric {name!r}: papers compute AU-PRO with the quantile-threshold utility; store it under "
                         f"that utility's legacy name, e.g. {name}/legacy100, and say which in aupro_utility")


class ReportedEntry(_Strict):
    method: str  # as the paper names it
    detector: str | None = None  # the benchkit detector that implements it, if any
    setting: str
    values: dict[str, dict[str, float]]  # category (or "mean") -> benchkit metric -> value as printed
    efficiency: dict[str, float] = {}
    configuration: dict[str, bool | str | None] = {}  # ablation rows: the paper's switches (None: not recoverable)
    params: dict[str, Any] = {}  # ablation rows: benchkit detector parameters that reproduce the configuration
    mean_differs: list[str] = []  # metrics whose printed mean disagrees with the printed categories (the paper's)
    note: str = ""

    @field_validator("setting")
    @classmethod
    def _known_setting(cls, v: str) -> str:
        if not _SETTING.match(v):
            raise ValueError(f"unknown setting {v!r}")
        return v

    @field_validator("values")
    @classmethod
    def _known_metrics(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for cat, by_metric in v.items():
            for name in by_metric:
                try:
                    _check_metric(name)
                except ValueError as exc:
                    raise ValueError(f"category {cat!r}: {exc}") from None
        return v

    @field_validator("efficiency")
    @classmethod
    def _known_efficiency(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) - EFFICIENCY:
            raise ValueError(f"unknown efficiency fields {sorted(set(v) - EFFICIENCY)}; use {sorted(EFFICIENCY)}")
        return v

    def recomputed_mean(self, metric: str) -> float | None:
        """Mean of the printed categories (as printed), None when the entry has fewer than two or one lacks it."""
        cats = [by_metric.get(metric) for cat, by_metric in self.values.items() if cat != "mean"]
        if len(cats) < 2 or any(v is None for v in cats):
            return None
        return sum(cats) / len(cats)


class ReportedTable(_Strict):
    table: str  # e.g. "Table I (I-AUROC)"
    dataset: str
    scale: Literal["percent", "fraction"]
    kind: Literal["comparison", "ablation"] = "comparison"
    metric_names: dict[str, str]  # the paper's name -> benchkit's
    aupro_utility: str = ""  # which AU-PRO code each row's numbers come from, and the evidence
    hardware: str = ""  # where the efficiency numbers were measured, as the paper states it
    note: str = ""
    entries: list[ReportedEntry]

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", v):
            raise ValueError(f"dataset {v!r}: use benchkit's dataset name, e.g. mvtec3d or real3d-ad")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ReportedTable:
        top = 100.0 if self.scale == "percent" else 1.0
        tolerance = MEAN_TOLERANCE_POINTS * top / 100.0 + 1e-9
        used = {m for e in self.entries for by_metric in e.values.values() for m in by_metric}
        if any(m.startswith("aupro@") for m in used) and not self.aupro_utility:
            raise ValueError(f"{self.table}: AU-PRO values need aupro_utility (which utility, how many thresholds)")
        if any(e.efficiency for e in self.entries) and not self.hardware:
            raise ValueError(f"{self.table}: efficiency values need hardware (as the paper states it, or 'not stated')")
        for e in self.entries:
            if self.kind == "ablation" and not e.configuration:
                raise ValueError(f"{self.table} / {e.method}: ablation rows need their configuration")
            for cat, by_metric in e.values.items():
                for metric, value in by_metric.items():
                    if not 0.0 <= value <= top:
                        raise ValueError(f"{e.method} {cat} {metric}: {value} outside [0, {top}] for scale {self.scale}")
            differs = set()
            for metric, printed in e.values.get("mean", {}).items():
                recomputed = e.recomputed_mean(metric)
                if recomputed is not None and abs(recomputed - printed) > tolerance:
                    differs.add(metric)
            declared = set(e.mean_differs)
            if differs - declared:
                m = sorted(differs - declared)[0]
                raise ValueError(f"{self.table} / {e.method}: printed mean of {m} is {e.values['mean'][m]} but its "
                                 f"categories give {e.recomputed_mean(m):.4g}; fix the transcription, or, if the paper "
                                 f"prints it so, list {m!r} in mean_differs")
            if declared - differs:
                raise ValueError(f"{self.table} / {e.method}: mean_differs lists {sorted(declared - differs)} but "
                                 f"those means agree with their categories")
        return self


class ReportedPaper(_Strict):
    paper: str
    source: str  # where it was transcribed from
    tables: list[ReportedTable]


def reported_files() -> list[Path]:
    """The reported-numbers files the installed plugins ship (``DetectorSpec.reported``), each once, sorted."""
    from benchkit.plugins import get_registry

    return sorted({Path(p) for spec in get_registry().detectors.values() for p in spec.reported})


def load_reported(folder: str | Path | None = None) -> dict[str, ReportedPaper]:
    """Every reported-numbers file by file stem: those the installed plugins ship (`reported_files`), or every
    ``*.json`` in ``folder`` when one is given. A bad file raises `DataError` naming it."""
    if folder is None:
        paths = reported_files()
    else:
        root = Path(folder)
        if not root.is_dir():
            raise DataError(root, "reported-numbers folder not found", "pass an existing folder of *.json files")
        paths = sorted(root.glob("*.json"))
    papers = {}
    for path in paths:
        try:
            papers[path.stem] = ReportedPaper.model_validate(json.loads(path.read_text()))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise DataError(path, f"invalid reported-numbers file: {exc}", "fix the file against benchkit.reported") from None
    return papers


def reported_rows(papers: dict[str, ReportedPaper], kind: str | None = "comparison") -> list[dict]:
    """Flat rows, one per value: paper, title, table, kind, dataset, setting, method, detector, configuration,
    params, aupro_utility (the table's), category, metric, value (a fraction), and for ``mean`` rows ``recomputed``
    (the mean of the printed categories, a fraction, or None) and ``mean_differs`` (the paper's mean disagrees with
    it). ``kind`` None: every table."""
    rows = []
    for key, paper in papers.items():
        for table in paper.tables:
            if kind is not None and table.kind != kind:
                continue
            factor = 0.01 if table.scale == "percent" else 1.0
            for e in table.entries:
                for cat, by_metric in e.values.items():
                    for metric, value in by_metric.items():
                        recomputed = e.recomputed_mean(metric) if cat == "mean" else None
                        rows.append(dict(paper=key, title=paper.paper, table=table.table, kind=table.kind,
                                         dataset=table.dataset, setting=e.setting, method=e.method,
                                         detector=e.detector, configuration=dict(e.configuration),
                                         params=dict(e.params), aupro_utility=table.aupro_utility,
                                         category=cat, metric=metric, value=value * factor,
                                         recomputed=None if recomputed is None else recomputed * factor,
                                         mean_differs=cat == "mean" and metric in e.mean_differs))
    return rows


def reported_efficiency(papers: dict[str, ReportedPaper]) -> list[dict]:
    """One row per reported efficiency value: paper, title, table, dataset, setting, method, detector, field
    (``throughput_per_s`` or ``memory_mb``), value, hardware and the table's note (what the memory figure is)."""
    rows = []
    for key, paper in papers.items():
        for table in paper.tables:
            for e in table.entries:
                for field, value in e.efficiency.items():
                    rows.append(dict(paper=key, title=paper.paper, table=table.table, dataset=table.dataset,
                                     setting=e.setting, method=e.method, detector=e.detector, field=field,
                                     value=value, hardware=table.hardware, note=table.note))
    return rows
