"""Numbers reported in the source papers, kept beside (never mixed with) the numbers benchkit measured.

One JSON file per paper under ``datasets_meta/reported/``; each holds tables transcribed from the paper, with the
paper's metric names mapped to benchkit's and values as printed (``scale`` says percent or fraction; `load_reported`
turns everything into fractions like the records).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from benchkit.errors import DataError

METRICS = frozenset({"i_auroc", "i_aupr", "p_auroc", "p_aupr", "aupro@0.3", "aupro@0.01"})
EFFICIENCY = frozenset({"throughput_per_s", "memory_mb"})
DATASETS = frozenset({"mvtec3d", "eyecandies", "real3d-ad", "anomaly-shapenet"})
_SETTING = re.compile(r"^(one-model-one-class|unified|unified-agnostic|few-shot:\d+|zero-shot-one-vs-rest|"
                      r"zero-shot-cross-dataset)$")
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "datasets_meta" / "reported"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportedEntry(_Strict):
    method: str  # as the paper names it
    detector: str | None = None  # the benchkit detector that implements it, if any
    setting: str
    values: dict[str, dict[str, float]]  # category (or "mean") -> benchkit metric -> value as printed
    efficiency: dict[str, float] = {}

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
            unknown = set(by_metric) - METRICS
            if unknown:
                raise ValueError(f"category {cat!r}: unknown metrics {sorted(unknown)}; use {sorted(METRICS)}")
        return v

    @field_validator("efficiency")
    @classmethod
    def _known_efficiency(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) - EFFICIENCY:
            raise ValueError(f"unknown efficiency fields {sorted(set(v) - EFFICIENCY)}; use {sorted(EFFICIENCY)}")
        return v


class ReportedTable(_Strict):
    table: str  # e.g. "Table I (I-AUROC)"
    dataset: str
    scale: Literal["percent", "fraction"]
    metric_names: dict[str, str]  # the paper's name -> benchkit's
    note: str = ""
    entries: list[ReportedEntry]

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v not in DATASETS:
            raise ValueError(f"unknown dataset {v!r}; use one of {sorted(DATASETS)}")
        return v

    @model_validator(mode="after")
    def _in_range(self) -> ReportedTable:
        top = 100.0 if self.scale == "percent" else 1.0
        for e in self.entries:
            for cat, by_metric in e.values.items():
                for metric, value in by_metric.items():
                    if not 0.0 <= value <= top:
                        raise ValueError(f"{e.method} {cat} {metric}: {value} outside [0, {top}] for scale {self.scale}")
        return self


class ReportedPaper(_Strict):
    paper: str
    source: str  # where it was transcribed from
    tables: list[ReportedTable]


def load_reported(folder: str | Path | None = None) -> dict[str, ReportedPaper]:
    """Every ``*.json`` in the folder (default: the checkout's ``datasets_meta/reported``), by file stem.
    A missing default folder (an installed wheel) gives no reported numbers; a bad file raises `DataError`."""
    root = Path(folder) if folder is not None else DEFAULT_DIR
    if not root.is_dir():
        if folder is None:
            return {}
        raise DataError(root, "reported-numbers folder not found", "pass an existing folder of *.json files")
    papers = {}
    for path in sorted(root.glob("*.json")):
        try:
            papers[path.stem] = ReportedPaper.model_validate(json.loads(path.read_text()))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise DataError(path, f"invalid reported-numbers file: {exc}", "fix the file against benchkit.reported") from None
    return papers


def reported_rows(papers: dict[str, ReportedPaper]) -> list[dict]:
    """Flat rows (paper, table, dataset, setting, method, detector, category, metric, value as a fraction)."""
    rows = []
    for key, paper in papers.items():
        for table in paper.tables:
            factor = 0.01 if table.scale == "percent" else 1.0
            for e in table.entries:
                for cat, by_metric in e.values.items():
                    for metric, value in by_metric.items():
                        rows.append(dict(paper=key, title=paper.paper, table=table.table, dataset=table.dataset,
                                         setting=e.setting, method=e.method, detector=e.detector, category=cat,
                                         metric=metric, value=value * factor))
    return rows
