"""The static leaderboard site and the terminal views (``benchkit leaderboard build``, ``show``, ``compare``).

The site is one ``index.html`` plus ``style.css``, rendered with jinja2 (autoescaping on: detector names and error
messages come from plugins and records) and no scripts or network resources. Values are shown in percent.
Reported paper numbers sit in rows labelled "reported" under the matching benchkit detector (or in a separate
table when benchkit has no such detector); they never enter ranks or bold-best marks.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from benchkit.aggregate import Summary, load_records, metric_sort_key, summarize
from benchkit.reported import load_reported, reported_rows

EFFICIENCY_COLUMNS = [  # (field, header, title, format)
    ("throughput_per_s", "samples/s", "Throughput: timed test samples per second of predict() (median over jobs)", "{:.2f}"),
    ("latency_ms_median", "latency ms", "Median per-sample predict latency after warm-up (median over jobs)", "{:.1f}"),
    ("peak_rss_mb", "peak MB", "Peak resident memory of the job's process in MB (median over jobs)", "{:.0f}"),
    ("parameters", "params", "Parameters of the detector's torch modules", "{}"),
    ("fit_seconds", "fit s", "Wall time of fit() in seconds (median over jobs)", "{:.1f}"),
]


def _pct(v: float | None, std: float | None = None) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    text = f"{100 * v:.1f}"
    if std is not None and not (isinstance(std, float) and np.isnan(std)):
        text += f" ± {100 * std:.1f}"
    return text


def _params(n: float | None) -> str:
    if n is None or np.isnan(n):
        return ""
    n = float(n)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def _eff(field: str, fmt: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _params(value) if field == "parameters" else fmt.format(value)


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


class _View:
    """Turns a `Summary` (and reported numbers) into plain dicts of cells for the template."""

    def __init__(self, summary: Summary, reported: pd.DataFrame) -> None:
        self.s = summary
        self.reported = reported

    def _value(self, key: tuple, metric: str, category: str) -> dict | None:
        v = self.s.values
        hit = v[(v.dataset == key[0]) & (v.setting == key[1]) & (v.detector == key[2]) & (v.weights == key[3])
                & (v.metric == metric) & (v.category == category)]
        return None if hit.empty else hit.iloc[0].to_dict()

    def _job_status(self, key: tuple, category: str) -> dict | None:
        j = self.s.jobs
        hit = j[(j.dataset == key[0]) & (j.setting == key[1]) & (j.detector == key[2]) & (j.weights == key[3])
                & (j.category.isin([category, "all"])) & (j.status != "ok")]
        if hit.empty:
            return None
        first = hit.iloc[0]
        return {"text": first.status, "title": f"seed {first.seed}: {first.reason}", "cls": f"status {first.status}"}

    def _cell(self, key: tuple, metric: str, category: str, row: pd.Series) -> dict:
        v = self._value(key, metric, category)
        if v is not None:
            title = f"{metric} {category}: {v['mean']:.4f} over {v['n_seeds']} seed(s)"
            if _none(v["ci_lo"]) is not None:
                title += f"; 95% bootstrap CI [{100 * v['ci_lo']:.1f}, {100 * v['ci_hi']:.1f}]"
            return {"text": _pct(v["mean"], _none(v["std"])), "title": title, "cls": "num", "value": v["mean"]}
        if category == "mean" and row.incomplete:
            why = f"missing: {row.missing}" if row.missing else "not every category has every seed"
            if row.copy_incomplete:
                why = "the dataset copy lacked categories"
            return {"text": "incomplete", "title": f"no mean over categories: {why}", "cls": "status incomplete"}
        status = self._job_status(key, category)
        return status or {"text": "–", "title": "not run", "cls": "num missing"}

    def _reported_for(self, dataset: str, setting: str) -> pd.DataFrame:
        r = self.reported
        if r.empty:
            return r
        return r[(r.dataset == dataset) & (r.setting == setting)]

    def section(self, dataset: str, setting: str) -> dict:
        s = self.s
        rows = s.rows[(s.rows.dataset == dataset) & (s.rows.setting == setting)]
        rep = self._reported_for(dataset, setting)
        metrics = sorted(set(s.metrics(dataset, setting)) | set(rep.metric.unique() if not rep.empty else []),
                         key=metric_sort_key)
        first = metrics[0] if metrics else None
        v = s.values
        ranks = v[(v.dataset == dataset) & (v.setting == setting) & (v.category == "mean") & (v.metric == first)]
        rank_of = {(r.detector, r.weights): r.rank for r in ranks.itertuples()}
        rows = rows.assign(sort_rank=[rank_of.get((r.detector, r.weights), np.inf) for r in rows.itertuples()])
        rows = rows.sort_values(["sort_rank", "detector", "weights"])
        detectors_here = set(rows.detector)

        def reported_entries(detector: str | None) -> list[tuple[str, pd.DataFrame]]:
            if rep.empty:
                return []
            sub = rep[rep.detector == detector] if detector is not None else rep[~rep.detector.isin(detectors_here)]
            return [(label, g) for label, g in sub.groupby(["method", "paper", "table", "title"], sort=False)]

        def reported_row(label: tuple, g: pd.DataFrame, columns: list[tuple[str, str]]) -> dict:
            method, _, table, title = label  # label = (method, paper key, table, paper title)
            cells = []
            for metric, cat in columns:
                hit = g[(g.metric == metric) & (g.category == cat)]
                cells.append({"text": _pct(hit.value.iloc[0]) if not hit.empty else "", "cls": "num",
                              "title": f"reported by {title}, {table}" if not hit.empty else ""})
            short = f"{label[1]}, {table.split(' (')[0]}"
            return {"label": f"reported · {method}", "method": f"{method} ({short})", "title": f"{title} — {table}", "cells": cells}

        # summary table: mean of every metric + efficiency
        summary_cols = [(m, "mean") for m in metrics]
        body = []
        for row in rows.itertuples(index=False):
            r = pd.Series(row._asdict())
            key = (r.dataset, r.setting, r.detector, r.weights)
            cells = [self._cell(key, m, "mean", r) for m in metrics]
            eff = [{"text": _eff(f, fmt, _none(r[f])), "cls": "num", "value": _none(r[f]) if f == "throughput_per_s" else None}
                   for f, _, _, fmt in EFFICIENCY_COLUMNS]
            body.append({
                "rank": "" if np.isinf(r.sort_rank) or np.isnan(r.sort_rank) else int(r.sort_rank),
                "detector": r.detector, "weights": r.weights, "incomplete": bool(r.incomplete),
                "random_init": r.weights == "random-init", "seeds": r.seeds, "device": r.device,
                "n_failed": int(r.n_failed), "n_skipped": int(r.n_skipped), "cells": cells, "eff": eff,
                "reported": [reported_row(lbl, g, summary_cols) for lbl, g in reported_entries(r.detector)],
                "key": key, "row": r,
            })
        _mark_best(body, len(metrics), "cells")
        _mark_best(body, 1, "eff")  # only throughput (higher is better) gets a best mark
        # per-metric category tables
        details = []
        for m in metrics:
            cats = ["mean", *s.categories.get(dataset, sorted(set(rep[rep.metric == m].category) - {"mean"}) if not rep.empty else [])]
            drows = [{"detector": b["detector"], "weights": b["weights"], "incomplete": b["incomplete"],
                      "random_init": b["random_init"],
                      "cells": [self._cell(b["key"], m, c, b["row"]) for c in cats],
                      "reported": [reported_row(lbl, g, [(m, c) for c in cats]) for lbl, g in reported_entries(b["detector"])]}
                     for b in body]
            _mark_best(drows, len(cats), "cells")
            details.append({"metric": m, "categories": cats, "rows": drows})
        jobs = s.jobs[(s.jobs.dataset == dataset) & (s.jobs.setting == setting) & (s.jobs.status != "ok")]
        only_reported = [reported_row(lbl, g, summary_cols) for lbl, g in reported_entries(None)]
        return {"dataset": dataset, "setting": setting, "id": f"{dataset}--{setting}".replace(":", "-"),
                "metrics": metrics, "rows": body, "details": details, "efficiency": EFFICIENCY_COLUMNS,
                "jobs": jobs.sort_values(["detector", "category", "seed"]).to_dict("records"),
                "only_reported": only_reported}


def _mark_best(rows: list[dict], n: int, field: str) -> None:
    """Bold the best (highest) value of each column among reproduced rows."""
    for i in range(n):
        vals = [r[field][i].get("value") for r in rows]
        vals = [v for v in vals if v is not None]
        if len(vals) < 2:
            continue
        best = max(vals)
        for r in rows:
            if r[field][i].get("value") == best:
                r[field][i]["cls"] += " best"


def _environment() -> Environment:
    return Environment(loader=PackageLoader("benchkit", "templates"), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def _reported_frame(reported_dir: str | Path | None) -> pd.DataFrame:
    rows = reported_rows(load_reported(reported_dir))
    return pd.DataFrame(rows, columns=["paper", "title", "table", "dataset", "setting", "method", "detector",
                                       "category", "metric", "value"])


def build_site(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    reported_dir: str | Path | None = None,
    expected: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Render the leaderboard of every record under ``results_dir`` into ``out_dir``; returns ``index.html``."""
    from benchkit import __version__

    summary = summarize(load_records(results_dir), expected)
    reported = _reported_frame(reported_dir)
    view = _View(summary, reported)
    sections = [view.section(d, s) for d, s in summary.sections()]
    have = set(summary.sections())
    reported_only = sorted({(r.dataset, r.setting) for r in reported.itertuples()} - have)
    extra = [view.section(d, s) for d, s in reported_only]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html = _environment().get_template("index.html.j2").render(
        sections=sections, reported_sections=extra, version=__version__,
        n_records=len(summary.jobs), n_failed=int((summary.jobs.status == "failed").sum()),
        n_skipped=int((summary.jobs.status == "skipped").sum()),
    )
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    shutil.copyfile(Path(__file__).parent / "templates" / "style.css", out / "style.css")
    return index


# ----------------------------------------------------------------------------------------------------------------
# terminal views


def _text_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def show_text(
    results_dir: str | Path,
    dataset: str | None = None,
    setting: str | None = None,
    metric: str | None = None,
    *,
    expected: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Plain-text leaderboard: per (dataset, setting), the mean of every metric (or, with ``metric``, that metric
    per category), flags and throughput. Values in percent."""
    summary = summarize(load_records(results_dir), expected, intervals=False)
    view = _View(summary, _reported_frame(None).iloc[0:0])
    blocks = []
    for d, s in summary.sections():
        if (dataset and d != dataset) or (setting and s != setting):
            continue
        sec = view.section(d, s)
        if metric:
            detail = next((x for x in sec["details"] if x["metric"] == metric), None)
            if detail is None:
                blocks.append(f"== {d} / {s}: no metric {metric!r} (have: {', '.join(sec['metrics'])})")
                continue
            header = ["detector", *detail["categories"]]
            rows = [[_label(r), *[c["text"] for c in r["cells"]]] for r in detail["rows"]]
        else:
            header = ["#", "detector", *sec["metrics"], "samples/s", "failed", "skipped"]
            rows = [[str(r["rank"]), _label(r), *[c["text"] for c in r["cells"]], r["eff"][0]["text"],
                     str(r["n_failed"]), str(r["n_skipped"])] for r in sec["rows"]]
        right = set(range(1, len(header))) if metric else {0, *range(2, len(header))}
        blocks.append(f"== {d} / {s}  (values in %)\n" + _text_table(header, rows, right))
        for j in sec["jobs"]:
            blocks[-1] += f"\n  {j['status']}: {j['detector']} {j['category']} seed {j['seed']}: {j['reason']}"
    if not blocks:
        return f"no results under {results_dir}" + (f" for {dataset or ''} {setting or ''}".rstrip() if dataset or setting else "")
    return "\n\n".join(blocks) + "\n\nmarks: [random-init] backbone not pretrained; [incomplete] no mean over categories"


def _label(r: dict) -> str:
    marks = (" [random-init]" if r["random_init"] else "") + (" [incomplete]" if r["incomplete"] else "")
    return r["detector"] + marks


def compare_text(
    results_dir: str | Path, a: str, b: str, *, dataset: str, setting: str, metric: str = "i_auroc"
) -> str:
    """Paired comparison of detectors ``a`` and ``b`` (`benchkit.comparison`: Wilcoxon over categories, paired
    bootstrap over test samples)."""
    from benchkit.comparison import compare, comparable_runs, format_comparison

    recs = [r for _, r in load_records(results_dir) if r.job.dataset == dataset and r.job.setting == setting]
    ra, rb = comparable_runs(recs, a), comparable_runs(recs, b)
    missing = [name for name, rs in ((a, ra), (b, rb)) if not rs]
    if missing:
        known = sorted({r.job.detector for r in recs})
        return (f"no records of {', '.join(missing)} on {dataset} / {setting} under {results_dir}; "
                f"detectors there: {', '.join(known) or 'none'}")
    return format_comparison(compare(ra, rb, metric), a, b, f"{dataset} / {setting}")
