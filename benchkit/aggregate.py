"""Result records -> pandas tables: one row per `KEY` (what produced a result, on which benchmark section).

Rules (the leaderboard and ``benchkit show`` rely on them):
- A row is one detector at one version, with one set of backbones and one weights kind, on one dataset under one
  setting. Versions are never mixed in a row: rows of a detector version older than the newest one in the same
  (dataset, setting) are ``stale``: kept and shown apart, never ranked. Runs with randomly initialised backbones
  (``weights == "random-init"``, decided by the harness from the weights it loaded) form their own row, are never
  averaged with pretrained runs and never ranked against them (they get no rank at all).
- ``weights_files`` counts the distinct pretrained weight files (by SHA-256) among a row's runs: more than one
  means the row mixes checkpoints.
- Per-category values are the mean over seeds, with the sample std only when the seeds differ: seeds that are
  identical copies (a deterministic detector, `benchkit.stats.seed_copies`) count as one (``seed_copies``). The mean over categories is computed per seed and
  then averaged over seeds, and ONLY when every category of the dataset has a value for every seed of the row and
  no record came from an incomplete dataset copy; otherwise the row is ``incomplete`` and has no mean (a mean over
  a subset of categories is not comparable, the mistake MTEB had to fix). Records' own ``mean`` entries are ignored.
- Ranks (1 = best; every metric here is higher-is-better) are over the current (not stale), not random-init rows
  with a mean, per (dataset, setting, metric). Reported paper numbers never enter these tables.
- Failed and skipped jobs stay visible: `Summary.jobs` lists every record with its status and reason, and rows
  count them.
- When a (category, seed) was run twice, the newest record (provenance timestamp) wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from packaging.version import InvalidVersion, Version

from benchkit.metrics import parse_aupro
from benchkit.results import Record
from benchkit.stats import mean_std, record_intervals, seed_copies

#: A result's identity: which detector (name with backbone variant, version, backbones built, weights kind) on which
#: benchmark section. Rows, values, jobs and ranks are keyed by it.
KEY = ["dataset", "setting", "detector", "detector_version", "backbone", "weights"]
#: Efficiency fields aggregated per row: the median over the row's ok jobs.
EFFICIENCY_FIELDS = ("throughput_per_s", "latency_ms_median", "latency_ms_p95", "peak_rss_mb", "peak_gpu_mb",
                     "parameters", "fit_seconds", "memory_bank_bytes", "flops_per_sample")
#: Display order of metrics; others follow alphabetically.
METRIC_ORDER = ("i_auroc", "i_aupr", "p_auroc", "p_aupr", "aupro@0.3", "aupro@0.01")


def metric_sort_key(metric: str) -> tuple[int, str]:
    """Display order: `METRIC_ORDER`, each legacy AU-PRO variant right after its exact metric, then the rest."""
    base, _, legacy = metric.partition("/")
    try:
        known = base in METRIC_ORDER and (not legacy or parse_aupro(metric) is not None)
    except ValueError:  # a malformed AU-PRO name sorts with the unknown ones
        known = False
    return (METRIC_ORDER.index(base), legacy) if known else (len(METRIC_ORDER), metric)


def version_key(version: str) -> tuple:
    """Order of detector versions: PEP 440 when the version parses, else the plain string (after every PEP 440)."""
    try:
        return (0, Version(version), "")
    except InvalidVersion:
        return (1, Version("0"), version)


def backbone_label(rec: Record) -> str:
    """The backbones a job built (by name, sorted), '' when none; part of the result's identity."""
    return "+".join(sorted({b.name for b in getattr(rec, "backbones", [])}))


def identity(rec: Record) -> tuple:
    """The record's `KEY` values."""
    j = rec.job
    return (j.dataset, j.setting, j.detector, j.detector_version, backbone_label(rec), rec.weights or "none")


@dataclass
class Summary:
    rows: pd.DataFrame  # one per KEY: flags, counts, efficiency medians
    values: pd.DataFrame  # KEY + metric, category ("mean" too), mean, std, n_seeds, ci_lo, ci_hi, rank (mean only)
    jobs: pd.DataFrame  # one per record: KEY + category, seed, status, reason, path
    categories: dict[str, list[str]]  # the full category list of every dataset

    def metrics(self, dataset: str, setting: str) -> list[str]:
        v = self.values[(self.values.dataset == dataset) & (self.values.setting == setting)]
        return sorted(v.metric.unique(), key=metric_sort_key)

    def sections(self) -> list[tuple[str, str]]:
        return sorted({(r.dataset, r.setting) for r in self.rows.itertuples()})


def load_records(results_dir: str | Path) -> list[tuple[Path, Record]]:
    """Every record under a results folder that passes the strict checks of `benchkit.validation`. Other JSON files
    and records that fail are left out with one warning each: a stray or broken file never stops a leaderboard."""
    import warnings

    from benchkit.validation import scan_results

    out = []
    for check in scan_results(results_dir):
        if check.ok:
            out.append((check.path, check.record))
        elif not check.is_record:
            warnings.warn(f"{check.path}: not a result record; skipped", stacklevel=2)
        else:
            more = f" (and {len(check.problems) - 1} more)" if len(check.problems) > 1 else ""
            warnings.warn(f"{check.path}: invalid record left out: {check.problems[0]}{more}; see `benchkit validate "
                          f"{check.path}`", stacklevel=2)
    return out


def expected_categories(records: Sequence[Record], given: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Full category list per dataset: ``given``, else the dataset plugin's spec, else every category seen in any
    record of that dataset (any detector, any setting)."""
    out: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}
    for rec in records:
        cats = seen.setdefault(rec.job.dataset, set())
        cats.update(c for c in rec.metrics if c != "mean")
        cats.update(rec.counts)
        if rec.job.category != "all":
            cats.add(rec.job.category)
    specs: dict[str, Any] = {}
    if given is None:
        try:
            from benchkit.plugins import get_registry

            specs = get_registry().datasets
        except Exception:  # a broken plugin set must not stop the leaderboard; fall back to the records
            specs = {}
    for dataset, cats in seen.items():
        if given is not None and dataset in given:
            out[dataset] = list(given[dataset])
        elif dataset in specs and list(getattr(specs[dataset], "categories", ()) or ()):
            out[dataset] = list(specs[dataset].categories)
        else:
            out[dataset] = sorted(cats)
    return out


def _reason(rec: Record) -> str:
    if rec.error is None:
        return ""
    return f"{rec.error.type}: {rec.error.message}"


def _newest(records: Iterable[tuple[Path | None, Record]]) -> list[tuple[Path | None, Record]]:
    """Keep the newest record per (KEY, category, seed)."""
    best: dict[tuple, tuple[Path | None, Record]] = {}
    for path, rec in records:
        k = (*identity(rec), rec.job.category, rec.job.seed)
        if k not in best or rec.provenance.timestamp >= best[k][1].provenance.timestamp:
            best[k] = (path, rec)
    return list(best.values())


def summarize(
    records: Iterable[Record | tuple[Path | None, Record]],
    expected: Mapping[str, Sequence[str]] | None = None,
    *,
    intervals: bool = True,
) -> Summary:
    """Aggregate records (or (path, record) pairs). ``expected`` overrides the category list per dataset."""
    pairs = [r if isinstance(r, tuple) else (None, r) for r in records]
    pairs = _newest(pairs)
    recs = [r for _, r in pairs]
    cats = expected_categories(recs, expected)

    job_rows = []
    for path, rec in pairs:
        j = rec.job
        job_rows.append(dict(zip(KEY, identity(rec)), category=j.category, seed=j.seed, status=rec.status, reason=_reason(rec),
                             incomplete=rec.incomplete, device=rec.provenance.device,
                             path=str(path) if path else "", **{f: getattr(rec.efficiency, f) for f in EFFICIENCY_FIELDS}))
    jobs = pd.DataFrame(job_rows, columns=[*KEY, "category", "seed", "status", "reason", "incomplete", "device", "path",
                                           *EFFICIENCY_FIELDS])

    # per (KEY) -> metric -> category -> seed -> value; and the interval of single-seed values
    grouped: dict[tuple, list[Record]] = {}
    for rec in recs:
        grouped.setdefault(identity(rec), []).append(rec)
    newest_version: dict[tuple, str] = {}
    for d, st, det, version, *_ in grouped:
        current = newest_version.get((d, st, det))
        if current is None or version_key(version) > version_key(current):
            newest_version[(d, st, det)] = version

    row_dicts, value_rows = [], []
    for key, group in sorted(grouped.items()):
        if all(r.status == "skipped" for r in group):
            continue  # never ran (incompatible, no weights): listed with its reason among the jobs, not ranked
        dataset = key[0]
        ok = [r for r in group if r.status == "ok"]
        seeds = sorted({r.job.seed for r in group})
        ok_seeds = sorted({r.job.seed for r in ok})
        # Per metric, category and seed, every value the records give. Zero-shot one-vs-rest and cross-dataset jobs
        # train on one category each and are tested on several, so a category can have several values (one per
        # training category): its value is their mean, and the section's mean is the mean of the jobs' means, as
        # the papers average their training categories (PointAD's protocol).
        collected: dict[str, dict[str, dict[int, list[float]]]] = {}
        job_means: dict[str, dict[int, list[float]]] = {}
        ivs: dict[str, dict[str, list[float]]] = {}
        for rec in ok:
            rec_iv = record_intervals(rec, n_boot=200, seed=rec.job.seed) if intervals else {}
            tested = [c for c in rec.metrics if c != "mean"]
            for cat in tested:
                for metric, value in rec.metrics[cat].items():
                    if value is not None and np.isfinite(value):
                        collected.setdefault(metric, {}).setdefault(cat, {}).setdefault(rec.job.seed, []).append(
                            float(value))
                        if cat in rec_iv and metric in rec_iv[cat]:
                            ivs.setdefault(metric, {})[cat] = rec_iv[cat][metric]
            if _trains_elsewhere(rec, tested):
                for metric, value in rec.metrics.get("mean", {}).items():
                    if value is not None and np.isfinite(value):
                        job_means.setdefault(metric, {}).setdefault(rec.job.seed, []).append(float(value))
        per = {metric: {cat: {sd: float(np.mean(v)) for sd, v in by_seed.items()} for cat, by_seed in by_cat.items()}
               for metric, by_cat in collected.items()}
        shared = any(len(v) > 1 for by_cat in collected.values() for by_seed in by_cat.values()
                     for v in by_seed.values())
        ivs = {} if shared else ivs  # an interval of one job does not describe a mean over several
        full = cats.get(dataset, [])
        flagged_incomplete = any(r.incomplete for r in group)
        copies = bool(seed_copies(ok))  # identical seeds: no spread to report, and one seed's interval holds
        complete_metrics = []
        for metric, by_cat in per.items():
            for cat, by_seed in by_cat.items():
                m, s, n = mean_std(by_seed.values())
                s = None if copies else s
                iv = ivs.get(metric, {}).get(cat) if n == 1 or copies else None
                value_rows.append(dict(zip(KEY, key), metric=metric, category=cat, mean=m, std=s, n_seeds=n,
                                       ci_lo=iv[0] if iv else None, ci_hi=iv[1] if iv else None))
            complete = bool(full) and not flagged_incomplete and ok_seeds == seeds and all(
                set(by_cat.get(c, {})) == set(ok_seeds) for c in full)
            if complete:
                complete_metrics.append(metric)
                if metric in job_means and set(job_means[metric]) == set(ok_seeds):
                    per_seed = [np.mean(job_means[metric][sd]) for sd in ok_seeds]
                else:
                    per_seed = [np.mean([by_cat[c][sd] for c in full]) for sd in ok_seeds]
                m, s, n = mean_std(per_seed)
                value_rows.append(dict(zip(KEY, key), metric=metric, category="mean", mean=m,
                                       std=None if copies else s, n_seeds=n, ci_lo=None, ci_hi=None))
        present = {c for by_cat in per.values() for c in by_cat}
        eff = {f: _median([getattr(r.efficiency, f) for r in ok]) for f in EFFICIENCY_FIELDS}
        row_dicts.append(dict(
            zip(KEY, key),
            stale=key[3] != newest_version[key[:3]], seed_copies=copies,
            weights_files=len({files for r in ok if (files := tuple(sorted((b.name, b.sha256) for b in r.backbones
                                                                             if b.sha256)))}),
            seeds=",".join(map(str, seeds)), n_seeds=len(ok_seeds),
            incomplete=(not per) or len(complete_metrics) < len(per),
            copy_incomplete=flagged_incomplete,
            missing=",".join(c for c in full if c not in present),
            n_jobs=len(group), n_ok=len(ok), n_failed=sum(r.status == "failed" for r in group),
            n_skipped=sum(r.status == "skipped" for r in group),
            device=",".join(sorted({r.provenance.device for r in ok})),
            configs=len({r.job.config_hash for r in group}),
            **eff,
        ))
    rows = pd.DataFrame(row_dicts, columns=[*KEY, "stale", "seed_copies", "weights_files", "seeds", "n_seeds", "incomplete", "copy_incomplete", "missing",
                                            "n_jobs", "n_ok", "n_failed", "n_skipped", "device", "configs",
                                            *EFFICIENCY_FIELDS])
    values = pd.DataFrame(value_rows, columns=[*KEY, "metric", "category", "mean", "std", "n_seeds", "ci_lo", "ci_hi"])
    values["rank"] = np.nan
    ranked = {tuple(r[k] for k in KEY) for r in row_dicts if not r["stale"] and r["weights"] != "random-init"}
    eligible = (values.category == "mean") & pd.Series([tuple(v) in ranked for v in values[KEY].itertuples(index=False)],
                                                       index=values.index, dtype=bool)
    if eligible.any():
        values.loc[eligible, "rank"] = (values[eligible].groupby(["dataset", "setting", "metric"])["mean"]
                                        .rank(ascending=False, method="min"))
    return Summary(rows=rows, values=values, jobs=jobs, categories=cats)


def _trains_elsewhere(rec: Record, tested: list[str]) -> bool:
    """A job that trained on one category (``job.category``) and was tested on others: zero-shot one-vs-rest and
    cross-dataset. Its own ``mean`` is one of the values the papers average."""
    return rec.job.category != "all" and tested != [rec.job.category]


def _median(values: Iterable[float | int | None]) -> float | None:
    arr = [v for v in values if v is not None]
    return float(np.median(arr)) if arr else None


def summarize_dir(results_dir: str | Path, expected: Mapping[str, Sequence[str]] | None = None) -> Summary:
    return summarize(load_records(results_dir), expected)


def wide(summary: Summary, dataset: str, setting: str, metric: str) -> pd.DataFrame:
    """Per-category table of one metric: index = the row identity (detector, version, backbone, weights), columns =
    mean then the categories."""
    v = summary.values
    v = v[(v.dataset == dataset) & (v.setting == setting) & (v.metric == metric)]
    table = v.pivot_table(index=KEY[2:], columns="category", values="mean", aggfunc="first")
    cols = [c for c in ["mean", *summary.categories.get(dataset, [])] if c in table.columns or c == "mean"]
    return table.reindex(columns=cols)
