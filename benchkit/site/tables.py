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

from benchkit.aggregate import KEY, metric_sort_key
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
        s, data = self.s, self.data
        dataset, setting = bench.dataset, bench.setting
        rows = s.rows[(s.rows.dataset == dataset) & (s.rows.setting == setting)].to_dict("records")
        rep = data.reported[(data.reported.dataset == dataset) & (data.reported.setting == setting)]
        metrics = sorted(set(s.metrics(dataset, setting)) | set(rep.metric.unique()), key=metric_sort_key)
        rank_by = ranking_metric(metrics)
        for r in rows:
            rank = self.values.get(tuple(r[k] for k in KEY) + (rank_by, "mean"), {}).get("rank")
            r["rank"] = None if fmt.missing(rank) else int(rank)
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["detector"], r["weights"]))
        here = {r["detector"] for r in rows}
        eff_cols = [c for c in EFFICIENCY_COLUMNS if any(not fmt.missing(r.get(c[0])) for r in rows)]
        body = []
        for r in rows:
            key = tuple(r[k] for k in KEY)
            det = data.detectors[r["detector"]]
            eff = []
            for f, header, _, form, higher in eff_cols:
                value = r.get(f)
                cell = {"text": form(value), "cls": "num", "sort": None if fmt.missing(value) else value,
                        "value": value if higher and not fmt.missing(value) else None,
                        "href": det.href + f"#{bench.id}" if not fmt.missing(value) else None}
                if f == "parameters" and fmt.missing(value):
                    cell["title"] = "no torch modules" if not fmt.missing(r.get("memory_bank_bytes")) else ""
                eff.append(cell)
            body.append({
                "rank": r["rank"], "detector": r["detector"], "href": det.href,
                "throughput": fmt.sig(r.get("throughput_per_s")),
                "weights": r["weights"], "random_init": r["weights"] == "random-init",
                "incomplete": bool(r["incomplete"]), "seeds": r["seeds"], "device": r["device"],
                "n_failed": int(r["n_failed"]), "n_skipped": int(r["n_skipped"]),
                "stale": bool(r.get("stale", False)), "extra": self._extra(r, rows),
                "cells": [self.cell(key, m, "mean", r, bench) for m in metrics], "eff": eff,
                "reported": self._reported_rows(rep, r["detector"], [(m, "mean") for m in metrics], bench),
                "_key": key, "_row": r,
            })
        _mark_best(body, "cells")
        _mark_best(body, "eff")
        cats = list(s.categories.get(dataset, [])) or sorted(set(rep.category) - {"mean"})
        details = []
        for m in metrics:
            columns = ["mean", *cats]
            drows = [{**{k: b[k] for k in ("detector", "href", "weights", "random_init", "incomplete", "extra")},
                      "cells": [self.cell(b["_key"], m, c, b["_row"], bench) for c in columns],
                      "reported": self._reported_rows(rep, b["detector"], [(m, c) for c in columns], bench)}
                     for b in body]
            _mark_best(drows, "cells")
            details.append({"metric": m, "categories": columns, "rows": drows})
        jobs = s.jobs[(s.jobs.dataset == dataset) & (s.jobs.setting == setting) & (s.jobs.status != "ok")]
        jobs = jobs.sort_values(["status", "detector", "category", "seed"]).to_dict("records")
        for j in jobs:
            j["href"] = self._job_href(j)
        return {
            "bench": bench, "metrics": metrics, "rank_by": rank_by, "rows": body, "details": details,
            "efficiency": eff_cols, "jobs": jobs, "n_failed": sum(j["status"] == "failed" for j in jobs),
            "n_skipped": sum(j["status"] == "skipped" for j in jobs),
            "only_reported": self._reported_rows(rep, None, [(m, "mean") for m in metrics], bench, exclude=here),
            "deltas": self._deltas(body, rep),
            "reported_efficiency": self._reported_efficiency(dataset, setting),
        }

    @staticmethod
    def _extra(row: dict, rows: list[dict]) -> dict[str, str]:
        """Identity fields worth showing beside a detector's name: its backbones, and its version when the
        benchmark holds several versions of it."""
        out = {}
        for k in KEY:
            if k in ("dataset", "setting", "detector", "weights") or not row.get(k):
                continue
            if k == "detector_version":
                if row[k] == "external":  # maps scored by `benchkit evaluate`: no run of the method's code here
                    out[k] = "external"
                    continue
                if len({r.get(k) for r in rows if r["detector"] == row["detector"]}) < 2:
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
                cells.append({"text": fmt.pct(hit.value.iloc[0]) if not hit.empty else "", "cls": "num",
                              "sort": float(hit.value.iloc[0]) if not hit.empty else None,
                              "title": f"reported by {title}, {table}" if not hit.empty else "",
                              "href": f"{bench.href}#reported" if not hit.empty else None})
            out.append({"method": method, "source": f"{paper}, {table.split(' (')[0]}", "title": f"{title} — {table}",
                        "cells": cells})
        return out

    def _deltas(self, body: list[dict], rep: pd.DataFrame) -> list[dict]:
        """Reproduced minus reported, per detector and metric, always against the reproduced metric of the same name
        (a legacy AU-PRO is compared with the legacy one, never with the exact one)."""
        out = []
        if rep.empty:
            return out
        for b in body:
            mine = rep[(rep.detector == b["detector"]) & (rep.category == "mean")]
            for r in mine.itertuples():
                v = self.values.get(b["_key"] + (r.metric, "mean"))
                reproduced = None if v is None else v["mean"]
                out.append({"detector": b["detector"], "href": b["href"], "weights": b["weights"],
                            "method": r.method, "paper": r.title, "table": r.table, "metric": r.metric,
                            "reported": fmt.pct(r.value), "reproduced": fmt.pct(reproduced),
                            "delta": fmt.delta(None if reproduced is None else reproduced - r.value),
                            "random_init": b["random_init"]})
        return out

    def _reported_efficiency(self, dataset: str, setting: str) -> list[dict]:
        out = []
        for key, paper in self.data.papers.items():
            for table in paper.tables:
                if table.dataset != dataset:
                    continue
                for e in table.entries:
                    if e.setting == setting and e.efficiency:
                        out.append({"method": e.method, "detector": e.detector, "paper": paper.paper,
                                    "table": table.table, "efficiency": dict(e.efficiency),
                                    "hardware": getattr(e, "hardware", "") or getattr(table, "hardware", "")})
        return out


def _mark_best(rows: list[dict], field: str) -> None:
    """Bold the best value of each column among reproduced rows (cells carry ``value`` only where higher is better)."""
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
