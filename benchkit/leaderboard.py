"""The leaderboard: the static site (`benchkit.site`, re-exported here as `build_site`) and the terminal views
``benchkit show`` and ``benchkit compare``, which read the same tables as the site. Values are shown in percent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchkit.aggregate import load_records, summarize
from benchkit.site import build_site
from benchkit.site.model import SiteData
from benchkit.site.tables import BenchmarkTables

__all__ = ["build_site", "compare_text", "show_text"]


# ----------------------------------------------------------------------------------------------------------------
# terminal views


def _text_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
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
    pairs = load_records(results_dir)
    data = SiteData(pairs, Path(results_dir), summary=summarize(pairs, expected, intervals=False), reported={})
    tables = BenchmarkTables(data)
    blocks = []
    for bench in data.benchmarks:
        d, s = bench.dataset, bench.setting
        if (dataset and d != dataset) or (setting and s != setting):
            continue
        sec = tables.benchmark(bench)
        if metric:
            detail = next((x for x in sec["details"] if x["metric"] == metric), None)
            if detail is None:
                blocks.append(f"== {d} / {s}: no metric {metric!r} (have: {', '.join(sec['metrics'])})")
                continue
            header = ["detector", *detail["categories"]]
            rows = [[_label(r), *[c["text"] for c in r["cells"]]] for r in detail["rows"]]
        else:
            header = ["#", "detector", *sec["metrics"], "samples/s", "failed", "skipped"]
            rows = [["" if r["rank"] is None else str(r["rank"]), _label(r), *[c["text"] for c in r["cells"]],
                     r["throughput"], str(r["n_failed"]), str(r["n_skipped"])] for r in [*sec["rows"], *sec["stale"]]]
        right = set(range(1, len(header))) if metric else {0, *range(2, len(header))}
        ranked = f", ranked by mean {sec['rank_by']}" if sec["rank_by"] and not metric else ""
        blocks.append(f"== {d} / {s}  (values in %{ranked})\n" + _text_table(header, rows, right))
        for j in sec["jobs"]:
            blocks[-1] += f"\n  {j['status']}: {j['detector']} {j['category']} seed {j['seed']}: {j['reason']}"
    if not blocks:
        where = f" for {dataset or ''} {setting or ''}".rstrip() if dataset or setting else ""
        return f"no results under {results_dir}{where}"
    marks = ("marks: [random-init] backbone not pretrained, never ranked; [incomplete] no mean over categories; "
             "[older version] superseded detector version, never ranked")
    return "\n\n".join(blocks) + "\n\n" + marks


def _label(r: dict) -> str:
    marks = (" [random-init]" if r["random_init"] else "") + (" [incomplete]" if r["incomplete"] else "")
    marks += f" [older version v{r['version']}]" if r.get("stale") else ""
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
