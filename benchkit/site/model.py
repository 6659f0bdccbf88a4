"""What the site is built from, gathered once: records with their page ids, the aggregated `Summary`, reported
paper numbers, dataset metadata and what the installed plugins say about each detector.

Everything optional is allowed to be missing: a record from an older benchkit, a detector whose plugin is not
installed where the site is built, a dataset without a metadata file. Pages then show less, never fail.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchkit.aggregate import Summary, identity, load_records, summarize
from benchkit.provenance import plugin_ref, web_url
from benchkit.reported import ReportedPaper, load_reported, reported_efficiency, reported_rows
from benchkit.results import Record
from benchkit.site.fmt import slug
from benchkit.thumbnails import thumbnails_of


@dataclass
class RecordEntry:
    id: str  # page name: records/<id>.html and records/<id>.json
    path: Path | None
    record: Record
    key: tuple  # the aggregation key (values of `benchkit.aggregate.KEY`)

    @property
    def href(self) -> str:
        return f"records/{self.id}.html"


@dataclass
class DetectorInfo:
    name: str  # as run: "sedir" or "sedir:fpfh"
    page: str  # detectors/<page>.html
    description: str = ""
    paper: str = ""
    spec_version: str = ""
    distribution: str = ""
    distribution_version: str = ""
    source_url: str = ""
    paper_url: str = ""
    consumes: list[str] = field(default_factory=list)
    installed: bool = False

    @property
    def href(self) -> str:
        return f"detectors/{self.page}.html"


@dataclass
class BenchmarkInfo:
    dataset: str
    setting: str
    id: str  # benchmarks/<id>.html
    title: str = ""
    homepage: str = ""
    license: str = ""
    citation: str = ""
    modalities: list[str] = field(default_factory=list)
    setting_description: str = ""
    embedded: bool = False

    @property
    def href(self) -> str:
        return f"benchmarks/{self.id}.html"


def benchmark_id(dataset: str, setting: str) -> str:
    return slug(f"{dataset}--{setting.replace(':', '-')}")


def _record_id(path: Path | None, root: Path, rec: Record) -> str:
    if path is not None:
        try:
            parts = path.relative_to(root).with_suffix("").parts
        except ValueError:
            parts = path.with_suffix("").parts[-4:]
    else:
        j = rec.job
        parts = (j.dataset, j.setting, j.detector, f"{j.category}__seed{j.seed}")
    return "--".join(slug(p) for p in parts)


_URL = re.compile(r"https?://[^\s)>\]]+")
_ARXIV = re.compile(r"arXiv[:\s]*(\d{4}\.\d{4,5})", re.IGNORECASE)


def paper_url(paper: str) -> str:
    """A link for a paper citation: a URL written in it, else its arXiv page when it names an arXiv id."""
    if m := _URL.search(paper or ""):
        return m.group(0)
    if m := _ARXIV.search(paper or ""):
        return f"https://arxiv.org/abs/{m.group(1)}"
    return ""


class SiteData:
    """Records, their aggregation and the metadata of every detector and benchmark they mention."""

    def __init__(self, pairs: Sequence[tuple[Path | None, Record]], root: Path, *, summary: Summary,
                 reported: dict[str, ReportedPaper]) -> None:
        self.root = root
        self.summary = summary
        self.papers = reported
        self.reported = pd.DataFrame(reported_rows(reported), columns=REPORTED_COLUMNS)  # comparison tables
        self.ablations = pd.DataFrame(reported_rows(reported, kind="ablation"), columns=REPORTED_COLUMNS)
        self.reported_efficiency = pd.DataFrame(reported_efficiency(reported), columns=[
            "paper", "title", "table", "dataset", "setting", "method", "detector", "field", "value", "hardware",
            "note"])
        self.entries: list[RecordEntry] = []
        seen: set[str] = set()
        for path, rec in pairs:
            rid = _record_id(path, root, rec)
            while rid in seen:  # two in-memory records of one job: keep both pages apart
                rid += "-1"
            seen.add(rid)
            key = identity(rec)
            self.entries.append(RecordEntry(rid, path, rec, key))
        self.by_path = {str(e.path): e for e in self.entries if e.path is not None}
        self.by_key: dict[tuple, list[RecordEntry]] = {}
        for e in self.entries:
            self.by_key.setdefault(e.key, []).append(e)
        self._registry = _registry()
        named = {e.record.job.detector for e in self.entries}
        for frame in (self.reported, self.ablations, self.reported_efficiency):
            named |= set(frame.detector.dropna())
        self.detectors = {name: self._detector(name) for name in sorted(named)}
        sections = {(e.record.job.dataset, e.record.job.setting) for e in self.entries}
        self.benchmarks = [self._benchmark(d, s) for d, s in sorted(sections)]
        only_reported = {(r.dataset, r.setting) for r in self.reported.itertuples()} - sections
        self.reported_benchmarks = [self._benchmark(d, s) for d, s in sorted(only_reported)]

    # -- lookups ------------------------------------------------------------------------------------------------
    def records_for(self, key: tuple, category: str | None = None, *, ok_only: bool = True) -> list[RecordEntry]:
        """Records behind a row (and one category of it: a unified record covers every category)."""
        out = []
        for e in self.by_key.get(key, []):
            if ok_only and e.record.status != "ok":
                continue
            if category is None or category == "mean" or e.record.job.category in (category, "all") \
                    or category in e.record.metrics:
                out.append(e)
        return out

    def thumbnails(self, entry: RecordEntry) -> list[dict[str, Any]]:
        return thumbnails_of(entry.path) if entry.path is not None else []

    # -- metadata ----------------------------------------------------------------------------------------------
    def _detector(self, name: str) -> DetectorInfo:
        info = DetectorInfo(name=name, page=slug(name.replace(":", "--")))
        reg = self._registry
        base = name.partition(":")[0]
        spec = reg.detectors.get(base) if reg is not None else None
        if spec is not None:
            info.installed = True
            info.description, info.paper, info.spec_version = spec.description, spec.paper, spec.version
            info.paper_url = paper_url(spec.paper)
            info.consumes = sorted(spec.consumes)
            info.distribution = reg.owner.get(("detectors", base), "")
            installed = plugin_ref(info.distribution) or {}
            info.distribution_version = installed.get("version") or ""
            info.source_url = web_url(installed.get("source"))
        plugin = next((_plugin_of(e.record) for e in reversed(self.entries)
                       if e.record.job.detector == name and _plugin_of(e.record)), None)
        if plugin is not None:  # what the records say wins: the site may be built where the plugin is not installed
            info.distribution = plugin.get("distribution") or info.distribution
            info.distribution_version = plugin.get("version") or info.distribution_version
            info.source_url = web_url(plugin.get("source")) or info.source_url
        return info

    def _benchmark(self, dataset: str, setting: str) -> BenchmarkInfo:
        from benchkit.dataset_tools import load_meta
        from benchkit.errors import BenchkitError

        info = BenchmarkInfo(dataset, setting, benchmark_id(dataset, setting))
        try:
            meta = load_meta(dataset)
            info.title, info.license, info.citation = meta.title, meta.license, meta.citation
            info.homepage = web_url(meta.homepage)
            info.modalities, info.embedded = list(meta.modalities), meta.embedded
        except BenchkitError:
            pass
        reg = self._registry
        if reg is not None:
            base = setting.partition(":")[0]
            if base in reg.settings:
                info.setting_description = reg.settings[base].description
            if not info.modalities and dataset in reg.datasets:
                info.modalities = sorted(reg.datasets[dataset].modalities)
        return info


#: Columns of `benchkit.reported.reported_rows` (kept even when no paper is loaded, so lookups never fail).
REPORTED_COLUMNS = ["paper", "title", "table", "kind", "dataset", "setting", "method", "detector", "configuration",
                    "params", "aupro_utility", "category", "metric", "value", "recomputed", "mean_differs"]


def _plugin_of(rec: Record) -> dict[str, Any] | None:
    """The distribution that registered the record's detector, when the record names it."""
    ref = getattr(rec.provenance, "detector_plugin", None)
    return ref.model_dump() if ref is not None else None


def _registry():
    try:
        from benchkit.plugins import get_registry

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return get_registry()
    except Exception:  # noqa: BLE001 - a broken plugin set must not stop the site; records still render
        return None


def load_site_data(results_dir: str | Path, *, reported_dir: str | Path | None = None,
                   expected: Mapping[str, Sequence[str]] | None = None) -> SiteData:
    root = Path(results_dir)
    pairs = load_records(root)
    return SiteData(pairs, root, summary=summarize(pairs, expected), reported=load_reported(reported_dir))
