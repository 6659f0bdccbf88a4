"""The tables of one benchmark (dataset x setting) as plain dicts of cells, for the site and ``benchkit show``.

A cell is ``{"text", "title", "cls", "value", "sort", "href", "ci"}``: ``value`` is what bold-best marks compare
(reproduced rows only), ``sort`` what the column sort uses, ``href`` where the number came from (a record page when
one record holds it, else the detector page's section of this benchmark), ``ci`` the interval as visible text.
Reported paper numbers are rows of their own under the matching detector; they never enter ranks or best marks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from benchkit.aggregate import KEY, metric_sort_key, version_key
from benchkit.reported import MEAN_TOLERANCE_POINTS
from benchkit.site import fmt
from benchkit.site.model import BenchmarkInfo, SiteData

#: (field, header, description, formatter, higher_is_better) of the efficiency columns, medians over ok jobs.
EFFICIENCY_COLUMNS = [
    ("throughput_per_s", "samples/s", "Throughput: timed test samples per second of predict()", fmt.sig, True),
    ("latency_ms_median", "latency ms", "Median per-sample predict() latency after one warm-up sample", fmt.sig, False),
    ("latency_ms_p95", "p95 ms", "95th percentile of the per-sample predict() latency", fmt.sig, False),
    ("peak_rss_mb", "peak MB", "Peak resident memory of the job's process in MB", fmt.sig, False),
    ("peak_gpu_mb", "GPU MB", "Peak GPU memory allocated by torch in MB (GPU jobs only)", fmt.sig, False),
    ("parameters", "params", "Parameters of the detector's torch modules", fmt.count, False),
    ("memory_bank_bytes", "bank", "Stored training features (memory bank)", fmt.size_bytes, False),
    ("flops_per_sample", "FLOPs", "FLOPs of one predict() call (torch matmul/conv/attention only)", fmt.count, False),
    ("fit_seconds", "fit s", "Wall time of fit() in seconds", fmt.sig, False),
]


def ranking_metric(metrics: list[str]) -> str | None:
    """The metric a benchmark is ranked by: the first in benchkit's metric order (object-level AUROC when there)."""
    return sorted(metrics, key=metric_sort_key)[0] if metrics else None


class BenchmarkTables:
    def __init__(self, data: SiteData) -> None:
        self.data = data
        self.s = data.summary
        v = self.s.values
        self.values = {tuple(r[k] for k in KEY) + (r["metric"], r["category"]): r for r in v.to_dict("records")}
        self.bad_jobs: dict[tuple, list[dict]] = {}
        for j in self.s.jobs[self.s.jobs.status != "ok"].to_dict("records"):
            self.bad_jobs.setdefault(tuple(j[k] for k in KEY), []).append(j)

    # -- cells -------------------------------------------------------------------------------------------------
    def _link(self, key: tuple, category: str, bench: BenchmarkInfo) -> str:
        recs = self.data.records_for(key, category)
        if category != "mean" and len(recs) == 1:
            return recs[0].href
        return self.data.detectors[key[KEY.index("detector")]].href + f"#{bench.id}"

    def cell(self, key: tuple, metric: str, category: str, row: dict, bench: BenchmarkInfo) -> dict:
        v = self.values.get(key + (metric, category))
        if v is not None:
            n = int(v["n_seeds"])
            title = f"{metric} {category}: {v['mean']:.4f} over {n} seed{'s' if n != 1 else ''}"
            if n > 1 and not fmt.missing(v["std"]) and v["std"] == 0:
                title += " (identical for every seed)"
            return {"text": fmt.pct(v["mean"], v["std"]), "title": title, "cls": "num", "value": v["mean"],
                    "sort": v["mean"], "href": self._link(key, category, bench),
                    "ci": fmt.interval(v["ci_lo"], v["ci_hi"])}
        if category == "mean" and row["incomplete"]:
            why = "not every category has every seed"
            if row["missing"]:
                why = f"missing: {row['missing'].replace(',', ', ')}"
            if row["copy_incomplete"]:
                why = "the dataset copy lacked categories"
            return {"text": "incomplete", "title": f"no mean over categories: {why}", "cls": "status incomplete",
                    "sort": None, "href": self.data.detectors[key[KEY.index("detector")]].href
                    + f"#{bench.id}", "ci": why}
        for j in self.bad_jobs.get(key, []):
            if j["category"] in (category, "all") or category == "mean":
                return {"text": j["status"], "title": f"seed {j['seed']}: {j['reason']}",
                        "cls": f"status {j['status']}",
                        "sort": None, "href": self._link(key, category, bench), "ci": ""}
        return {"text": "–", "title": "not run", "cls": "num missing", "sort": None}

    # -- one benchmark ---------------------------------------------------------------------------------------------
    def benchmark(self, bench: BenchmarkInfo) -> dict[str, Any]:
        """The benchmark's tables. ``rows``: the current detector versions (random-init rows among them, flagged,
        unranked, never bold); ``stale``: rows of superseded versions, shown apart and never ranked."""
        s, data = self.s, self.data
        dataset, setting = bench.dataset, bench.setting
        rows = s.rows[(s.rows.dataset == dataset) & (s.rows.setting == setting)].to_dict("records")
        rep = data.reported[(data.reported.dataset == dataset) & (data.reported.setting == setting)]
        metrics = sorted(set(s.metrics(dataset, setting)) | set(rep.metric.unique()), key=metric_sort_key)
        rank_by = ranking_metric(metrics)
        for r in rows:
            rank = self.values.get(tuple(r[k] for k in KEY) + (rank_by, "mean"), {}).get("rank")
            r["rank"] = None if fmt.missing(rank) else int(rank)
        rows.sort(key=lambda r: (r["rank"] is None, r["weights"] == "random-init", r["rank"] or 0, r["detector"],
                                 r["weights"], version_key(r["detector_version"])))
        here = {r["detector"] for r in rows}
        eff_cols = [c for c in EFFICIENCY_COLUMNS if any(not fmt.missing(r.get(c[0])) for r in rows)]
        body = [self._row(r, rows, metrics, eff_cols, rep, bench) for r in rows]
        current = [b for b in body if not b["stale"]]
        stale = [b for b in body if b["stale"]]
        _mark_best(current, "cells")
        _mark_best(current, "eff")
        cats = list(s.categories.get(dataset, [])) or sorted(set(rep.category) - {"mean"})
        details = []
        for m in metrics:
            columns = ["mean", *cats]
            drows = [{**{k: b[k] for k in ("detector", "href", "weights", "random_init", "incomplete", "extra",
                                          "stale", "rankable")},
                      "cells": [self.cell(b["_key"], m, c, b["_row"], bench) for c in columns],
                      "reported": self._reported_rows(rep, b["detector"], [(m, c) for c in columns], bench)}
                     for b in current]
            _mark_best(drows, "cells")
            details.append({"metric": m, "about": fmt.metric_about(m), "categories": columns, "rows": drows})
        jobs = s.jobs[(s.jobs.dataset == dataset) & (s.jobs.setting == setting) & (s.jobs.status != "ok")]
        jobs = jobs.sort_values(["status", "detector", "category", "seed"]).to_dict("records")
        for j in jobs:
            j["href"] = self._job_href(j)
        return {
            "bench": bench, "metrics": metrics, "about": {m: fmt.metric_about(m) for m in metrics},
            "rank_by": rank_by, "rows": current, "stale": stale, "details": details,
            "efficiency": eff_cols, "jobs": jobs, "n_failed": sum(j["status"] == "failed" for j in jobs),
            "n_skipped": sum(j["status"] == "skipped" for j in jobs),
            "only_reported": self._reported_rows(rep, None, [(m, "mean") for m in metrics], bench, exclude=here),
            "deltas": self._deltas(current, rep),
            "reported_efficiency": self._reported_efficiency(dataset, setting, current),
        }

    def _row(self, r: dict, rows: list[dict], metrics: list[str], eff_cols: list, rep: pd.DataFrame,
             bench: BenchmarkInfo) -> dict[str, Any]:
        """One row of the ranking (or of the older versions) table: mean cells, efficiency cells, flags, and the
        paper's numbers for the same detector under it (current rows only)."""
        key = tuple(r[k] for k in KEY)
        det = self.data.detectors[r["detector"]]
        stale, random_init = bool(r.get("stale", False)), r["weights"] == "random-init"
        eff = []
        for f, header, _, form, higher in eff_cols:
            value = r.get(f)
            cell = {"text": form(value), "cls": "num", "sort": None if fmt.missing(value) else value,
                    "value": value if higher and not fmt.missing(value) else None,
                    "href": det.href + f"#{bench.id}" if not fmt.missing(value) else None}
            if f == "parameters" and fmt.missing(value):
                cell["title"] = "no torch modules" if not fmt.missing(r.get("memory_bank_bytes")) else ""
            eff.append(cell)
        return {
            "rank": r["rank"], "detector": r["detector"], "href": det.href,
            "throughput": fmt.sig(r.get("throughput_per_s")), "version": r["detector_version"],
            "weights": r["weights"], "random_init": random_init, "stale": stale,
            "rankable": not stale and not random_init,  # may be ranked and bold; reported numbers are never
            "incomplete": bool(r["incomplete"]), "seeds": r["seeds"], "device": r["device"],
            "n_failed": int(r["n_failed"]), "n_skipped": int(r["n_skipped"]), "extra": self._extra(r, rows),
            "cells": [self.cell(key, m, "mean", r, bench) for m in metrics], "eff": eff,
            "reported": [] if stale else self._reported_rows(rep, r["detector"], [(m, "mean") for m in metrics], bench),
            "_key": key, "_row": r,
        }

    @staticmethod
    def _extra(row: dict, rows: list[dict]) -> dict[str, str]:
        """Identity fields worth showing beside a detector's name: its backbones, and its version when the
        benchmark holds several versions of it (always on a stale row)."""
        out = {}
        for k in KEY:
            if k in ("dataset", "setting", "detector", "weights") or not row.get(k):
                continue
            if k == "detector_version":
                if row[k] == "external":  # maps scored by `benchkit evaluate`: no run of the method's code here
                    out[k] = "external"
                    continue
                if not row.get("stale") and len({r.get(k) for r in rows if r["detector"] == row["detector"]}) < 2:
                    continue
                out[k] = f"v{row[k]}"
            else:
                out[k] = str(row[k])
        return out

    def _job_href(self, job: dict) -> str | None:
        entry = self.data.by_path.get(job["path"])
        return entry.href if entry is not None else None

    # -- reported numbers ----------------------------------------------------------------------------------------
    def _reported_rows(self, rep: pd.DataFrame, detector: str | None, columns: list[tuple[str, str]],
                       bench: BenchmarkInfo, exclude: set[str] = frozenset()) -> list[dict]:
        if rep.empty:
            return []
        sub = rep[rep.detector == detector] if detector is not None else rep[~rep.detector.isin(exclude)]
        out = []
        for (method, paper, table, title), g in sub.groupby(["method", "paper", "table", "title"], sort=False):
            cells = []
            for metric, cat in columns:
                hit = g[(g.metric == metric) & (g.category == cat)]
                cells.append(reported_cell(hit.iloc[0].to_dict() if not hit.empty else None, f"{bench.href}#reported"))
            out.append({"method": method, "source": f"{paper}, {table.split(' (')[0]}", "title": f"{title} — {table}",
                        "cells": cells})
        return out

    def _deltas(self, body: list[dict], rep: pd.DataFrame) -> list[dict]:
        """Reproduced minus reported, per current row and metric, always against the reproduced metric of the same
        name (a legacy AU-PRO only against the same legacy variant, never the exact one); stale rows never enter."""
        out = []
        if rep.empty:
            return out
        for b in body:
            mine = rep[(rep.detector == b["detector"]) & (rep.category == "mean")]
            for r in mine.itertuples():
                v = self.values.get(b["_key"] + (r.metric, "mean"))
                reproduced = None if v is None else v["mean"]
                missing_why = ""
                if reproduced is None and r.metric.startswith("aupro@"):
                    base = r.metric.partition("/")[0]
                    have = sorted({k[len(KEY)] for k in self.values if k[:len(KEY)] == b["_key"]
                                   and k[len(KEY)].partition("/")[0] == base})
                    if have:
                        missing_why = f"this row has {', '.join(have)} only"
                out.append({"detector": b["detector"], "href": b["href"], "weights": b["weights"],
                            "method": r.method, "paper": r.title, "table": r.table, "metric": r.metric,
                            "about": fmt.metric_about(r.metric), "aupro_utility": r.aupro_utility
                            if r.metric.startswith("aupro@") else "",
                            "reported": fmt.pct(r.value), "reproduced": fmt.pct(reproduced),
                            "missing_why": missing_why, "recomputed": fmt.pct(r.recomputed) if r.mean_differs else "",
                            "delta": fmt.delta(None if reproduced is None else reproduced - r.value),
                            "random_init": b["random_init"], "extra": b["extra"]})
        return out

    def _reported_efficiency(self, dataset: str, setting: str, body: list[dict]) -> list[dict]:
        """Each reported FPS / memory value with the paper's hardware, beside the same detector's measured median
        here (throughput; peak GPU memory where the jobs used a GPU, else peak resident memory) and its device."""
        eff = self.data.reported_efficiency
        eff = eff[(eff.dataset == dataset) & (eff.setting == setting)]
        out = []
        for r in eff.itertuples():
            detector = r.detector if isinstance(r.detector, str) else None  # None (NaN): no benchkit detector
            mine = [b for b in body if b["detector"] == detector]
            measured = []
            for b in mine:
                row = b["_row"]
                if r.field == "throughput_per_s":
                    value, what = row.get("throughput_per_s"), "samples/s"
                else:
                    gpu = row.get("peak_gpu_mb")
                    value, what = (gpu, "MB peak GPU") if not fmt.missing(gpu) else (row.get("peak_rss_mb"),
                                                                                   "MB peak resident")
                if not fmt.missing(value):
                    measured.append({"text": f"{fmt.sig(value)} {what}", "device": b["device"],
                                     "random_init": b["random_init"], "extra": b["extra"]})
            out.append({"method": r.method, "detector": detector, "paper": r.title, "table": r.table,
                        "field": r.field, "reported": f"{fmt.sig(r.value)} {REPORTED_UNITS.get(r.field, '')}".strip(),
                        "hardware": r.hardware, "note": r.note, "measured": measured,
                        "href": self.data.detectors[detector].href if detector else None})
        return out


#: Units of `benchkit.reported.EFFICIENCY` fields as the papers print them.
REPORTED_UNITS = {"throughput_per_s": "FPS", "memory_mb": "MB"}


def reported_cell(hit: dict | None, href: str | None) -> dict:
    """A paper's number (a `benchkit.reported.reported_rows` row; None: not printed) as a cell. A printed mean that
    disagrees with the paper's own categories (by > `MEAN_TOLERANCE_POINTS`) is flagged, the recomputed mean beside."""
    if hit is None:
        return {"text": "", "cls": "num", "sort": None, "title": "", "href": None}
    cell = {"text": fmt.pct(hit["value"]), "cls": "num", "sort": float(hit["value"]), "href": href,
            "title": f"reported by {hit['title']}, {hit['table']}"}
    if hit.get("mean_differs") and not fmt.missing(hit.get("recomputed")):
        cell["cls"] += " differs"
        cell["ci"] = f"categories give {fmt.pct(hit['recomputed'])}"
        cell["title"] += (f"; the paper's mean differs from the mean of its printed categories "
                          f"({fmt.pct(hit['recomputed'])}) by more than {MEAN_TOLERANCE_POINTS} points")
    return cell


def _mark_best(rows: list[dict], field: str) -> None:
    """Bold the best value of each column among the rankable rows (current version, pretrained or weight-free):
    a random-init or stale row is never best. Cells carry ``value`` only where higher is better."""
    rows = [r for r in rows if r.get("rankable", True)]
    if not rows:
        return
    for i in range(len(rows[0][field])):
        vals = [r[field][i].get("value") for r in rows]
        vals = [v for v in vals if v is not None and np.isfinite(v)]
        if len(vals) < 2 or min(vals) == max(vals):
            continue  # nothing to tell apart
        best = max(vals)
        for r in rows:
            if r[field][i].get("value") == best:
                r[field][i]["cls"] += " best"
