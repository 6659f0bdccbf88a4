"""Page contexts besides the benchmark tables: the index, a page per detector, per record and per gallery."""

from __future__ import annotations

import json
from typing import Any

from benchkit.aggregate import KEY, metric_sort_key
from benchkit.results import Efficiency
from benchkit.site import fmt
from benchkit.site.model import RecordEntry, SiteData


def index(data: SiteData, tables: dict[str, dict]) -> dict[str, Any]:
    """Benchmarks (with their description and counts), detectors, and one filterable row per detector x benchmark."""
    jobs = data.summary.jobs
    benches, results = [], []
    for b in data.benchmarks:
        t = tables[b.id]
        here = jobs[(jobs.dataset == b.dataset) & (jobs.setting == b.setting)]
        leader = next((r for r in t["rows"] if r["rank"] == 1), None)
        benches.append({"bench": b, "rank_by": t["rank_by"], "n_rows": len(t["rows"]), "n_jobs": len(here),
                        "n_ok": int((here.status == "ok").sum()), "n_failed": t["n_failed"],
                        "n_skipped": t["n_skipped"], "leader": leader,
                        "leader_cell": leader["cells"][t["metrics"].index(t["rank_by"])] if leader else None})
        for r in t["rows"]:
            cell = r["cells"][t["metrics"].index(t["rank_by"])] if t["rank_by"] else None
            results.append({"bench": b, "row": r, "cell": cell, "rank_by": t["rank_by"]})
    detectors = []
    for name, d in data.detectors.items():
        n = sum(1 for e in data.entries if e.record.job.detector == name)
        if n:
            detectors.append({"info": d, "n_records": n})
    return {"benchmarks": benches, "results": results, "detectors": detectors,
            "reported_benchmarks": data.reported_benchmarks,
            "filters": {"dataset": sorted({b.dataset for b in data.benchmarks}),
                        "setting": sorted({b.setting for b in data.benchmarks}),
                        "modality": sorted({m for b in data.benchmarks for m in b.modalities})},
            "n_records": len(jobs), "n_failed": int((jobs.status == "failed").sum()),
            "n_skipped": int((jobs.status == "skipped").sum())}


def detector(data: SiteData, name: str, tables: dict[str, dict]) -> dict[str, Any]:
    """One detector: where it comes from, its parameters and weights, and every result it has."""
    info = data.detectors[name]
    mine = [e for e in data.entries if e.record.job.detector == name]
    params: dict[str, dict] = {}
    for e in mine:
        p = e.record.job.config.get("detector", {}).get("params")
        if p is None:
            continue
        text = json.dumps(p, indent=2, sort_keys=True)
        params.setdefault(text, {"json": text, "n": 0, "versions": set()})
        params[text]["n"] += 1
        params[text]["versions"].add(e.record.job.detector_version)
    weights = sorted({e.record.weights or "none" for e in mine})
    backbones = {}
    for e in mine:
        for use in getattr(e.record, "backbones", None) or []:
            use = use if isinstance(use, dict) else use.model_dump()
            backbones[(use.get("name"), use.get("weights"), use.get("sha256"))] = use
    sections = []
    for b in data.benchmarks:
        t = tables[b.id]
        rows = [r for r in [*t["rows"], *t["stale"]] if r["detector"] == name]
        recs = [e for e in mine if (e.record.job.dataset, e.record.job.setting) == (b.dataset, b.setting)]
        if rows or recs:
            recs.sort(key=lambda e: (e.record.job.category, e.record.job.seed, e.record.provenance.timestamp))
            sections.append({"bench": b, "table": t, "rows": rows, "records": recs,
                             "deltas": [d for d in t["deltas"] if d["detector"] == name]})
    return {"info": info, "params": list(params.values()), "weights": weights, "backbones": list(backbones.values()),
            "sections": sections, "versions": sorted({e.record.job.detector_version for e in mine}),
            "ablations": ablations(data, name)}


def _switch(value: Any) -> str:
    return {True: "yes", False: "no", None: "not recoverable from the paper's text"}.get(value, str(value)) \
        if isinstance(value, (bool, type(None))) else str(value)


def ablations(data: SiteData, name: str) -> list[dict[str, Any]]:
    """The papers' ablation tables of this detector, as printed: per row its configuration (the paper's switches)
    and the benchkit parameters that reproduce it where known, and its values (percent)."""
    from benchkit.site.tables import reported_cell

    abl = data.ablations[data.ablations.detector == name]
    out = []
    for (paper, table), g in abl.groupby(["paper", "table"], sort=False):
        cats = list(dict.fromkeys(g.category))
        cats = (["mean"] if "mean" in cats else []) + [c for c in cats if c != "mean"]
        columns = [(m, c) for m in sorted(set(g.metric), key=metric_sort_key) for c in cats
                   if not g[(g.metric == m) & (g.category == c)].empty]
        bench = next((b for b in data.benchmarks if (b.dataset, b.setting) == (g.dataset.iloc[0], g.setting.iloc[0])),
                     None)
        rows = []
        for method, e in g.groupby("method", sort=False):
            first = e.iloc[0]
            cells = []
            for m, c in columns:
                hit = e[(e.metric == m) & (e.category == c)]
                cells.append(reported_cell(hit.iloc[0].to_dict() if not hit.empty else None, None))
            rows.append({"method": method, "setting": first.setting, "cells": cells,
                         "configuration": [(k, _switch(v)) for k, v in (first.configuration or {}).items()],
                         "params": json.dumps(first.params, sort_keys=True) if first.params else ""})
        first = g.iloc[0]
        note = next((t.note for t in data.papers[paper].tables if t.table == table), "")
        out.append({"paper": first.title, "table": table, "dataset": first.dataset, "setting": first.setting,
                    "bench": bench, "note": note,
                    "columns": [{"metric": m, "category": c, "about": fmt.metric_about(m)} for m, c in columns],
                    "aupro_utility": first.aupro_utility if any(m.startswith("aupro@") for m, _ in columns) else "",
                    "rows": rows})
    return out


EFFICIENCY_UNITS = {"fit_seconds": "s", "predict_seconds": "s", "latency_ms_median": "ms", "latency_ms_p95": "ms",
                    "latency_ms_iqr": "ms", "throughput_per_s": "samples/s", "peak_rss_mb": "MB",
                    "baseline_rss_mb": "MB", "peak_gpu_mb": "MB", "memory_bank_bytes": "bytes",
                    "flops_per_sample": "FLOPs"}


def record(data: SiteData, entry: RecordEntry) -> dict[str, Any]:
    """One job: what ran where, its config, efficiency, metrics with intervals as text, and the raw JSON."""
    rec = entry.record
    raw = rec.model_dump(mode="json")
    prov = raw["provenance"]
    provenance = [(k, v) for k, v in prov.items() if k != "packages" and not fmt.missing(v) and v != ""]
    efficiency = []
    for name, spec in Efficiency.model_fields.items():
        value = getattr(rec.efficiency, name)
        if value is None:
            continue
        text = value if isinstance(value, (str, bool)) else (fmt.sig(value, 4) if isinstance(value, float) else value)
        efficiency.append({"name": name, "value": text, "unit": EFFICIENCY_UNITS.get(name, ""),
                           "about": spec.description or ""})
    cats = sorted((c for c in rec.metrics if c != "mean")) + (["mean"] if "mean" in rec.metrics else [])
    names = sorted({m for by in rec.metrics.values() for m in by}, key=metric_sort_key)
    metric_rows = []
    for c in cats:
        cells = []
        for m in names:
            v = rec.metrics[c].get(m)
            iv = rec.intervals.get(c, {}).get(m)
            cells.append({"text": fmt.pct(v), "ci": fmt.interval(*iv) if iv and len(iv) == 2 else "",
                          "title": "" if v is None else f"{v:.6f}"})
        metric_rows.append({"category": c, "cells": cells})
    bench = next((b for b in data.benchmarks if (b.dataset, b.setting) == (rec.job.dataset, rec.job.setting)), None)
    return {"entry": entry, "rec": rec, "provenance": provenance, "packages": sorted(prov.get("packages", {}).items()),
            "config": json.dumps(rec.job.config, indent=2, sort_keys=True), "efficiency": efficiency,
            "metric_names": names, "metric_rows": metric_rows, "counts": rec.counts,
            "raw": json.dumps(raw, indent=2), "bench": bench, "detector": data.detectors.get(rec.job.detector),
            "thumbs": data.thumbnails(entry), "n_samples": len(rec.samples),
            "key": {k: v for k, v in zip(KEY, entry.key)}}


def gallery(data: SiteData, bench, copied: dict[str, dict[str, str]]) -> dict[str, Any] | None:
    """The pictured samples of one benchmark side by side across its current rows (one column per detector version,
    backbones and weights kind, as `benchkit.aggregate.KEY`; lowest seed of each; older versions left out), or None."""
    rows: dict[tuple[str, str], dict] = {}
    columns: list[dict] = []
    stale = {tuple(r[k] for k in KEY) for r in data.summary.rows.to_dict("records") if r["stale"]}
    for e in sorted(data.entries, key=lambda e: (e.key, e.record.job.seed)):
        j = e.record.job
        if (j.dataset, j.setting) != (bench.dataset, bench.setting) or e.id not in copied or e.key in stale:
            continue
        col = e.key[2:]  # detector, version, backbones, weights
        if any(c["key"] == col for c in columns) and not any(c["key"] == col and c["seed"] == j.seed for c in columns):
            continue  # one seed per row
        if not any(c["key"] == col for c in columns):
            columns.append({"key": col, "detector": j.detector, "weights": col[3], "seed": j.seed,
                            "version": col[1], "backbone": col[2], "href": data.detectors[j.detector].href})
        for item in data.thumbnails(e):
            k = (item["category"] or j.category, item["id"])
            row = rows.setdefault(k, {"category": k[0], "id": item["id"], "label": item["label"],
                                      "defect": item.get("defect"), "input": None, "gt": None, "maps": {}})
            files = copied[e.id]
            row["input"] = row["input"] or files.get(f"{item['id']}::input")
            row["gt"] = row["gt"] or files.get(f"{item['id']}::gt")
            if f"{item['id']}::map" in files:
                row["maps"][col] = {"src": files[f"{item['id']}::map"], "href": e.href}
    if not rows:
        return None
    for c in columns:  # the version shows only where it tells two columns of one detector apart
        c["show_version"] = sum(x["detector"] == c["detector"] for x in columns) > 1
    return {"bench": bench, "columns": columns, "rows": [rows[k] for k in sorted(rows)]}

