"""Accuracy-versus-cost pictures of one benchmark, drawn at build time as static SVG with matplotlib.

Two plots per benchmark: the ranking metric against throughput (higher is better on both axes) and against peak
memory (lower is better). The Pareto front (rows no other row beats on both axes) is drawn as a line and its
points filled; the others are hollow. Text is kept as SVG text (``svg.fonttype = none``) and the files are shown
through ``<img>``, where a browser never runs scripts, whatever a detector's name holds.
"""

from __future__ import annotations

from pathlib import Path

from benchkit.site import fmt

#: (file suffix, efficiency field, axis label, higher is better)
PLOTS = (
    ("throughput", "throughput_per_s", "throughput (samples/s, log scale)", True),
    ("memory", "peak_rss_mb", "peak memory (MB, log scale)", False),
)


def pareto_front(points: list[tuple[float, float]], higher_x: bool) -> list[int]:
    """Indices of the points no other point dominates (y always higher-is-better; x as ``higher_x`` says)."""
    def better_or_equal(a: tuple[float, float], b: tuple[float, float]) -> bool:
        x_ok = a[0] >= b[0] if higher_x else a[0] <= b[0]
        return x_ok and a[1] >= b[1]

    front = []
    for i, p in enumerate(points):
        if not any(j != i and better_or_equal(q, p) and q != p for j, q in enumerate(points)):
            front.append(i)
    return front


def draw(table: dict, out_dir: Path) -> list[dict]:
    """Write the SVGs of one benchmark's ranking table; returns [{"file", "title", "alt", "front"}] of those drawn
    (a plot needs two rows with both values)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    metric = table["rank_by"]
    made = []
    for suffix, field, label, higher in PLOTS:
        pts, names = [], []
        for row in table["rows"]:
            y = next((c.get("value") for c, m in zip(row["cells"], table["metrics"]) if m == metric), None)
            x = row["_row"].get(field)
            if y is None or fmt.missing(x) or x <= 0:
                continue
            pts.append((float(x), float(y)))
            names.append(row["detector"] + (" (random-init)" if row["random_init"] else ""))
        if len(pts) < 2:
            continue
        front = pareto_front(pts, higher)
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "benchkit", "font.size": 9}):
            fig = Figure(figsize=(6.4, 3.8))
            ax = fig.add_subplot()
            ax.set_xscale("log")
            # plain-text tick labels: the default log labels ($10^{2}$) go through mathtext, whose parser took
            # 9 of the 20 s a site of 30 benchmarks took to build
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            for i, ((x, y), name) in enumerate(zip(pts, names)):
                on = i in front
                ax.scatter([x], [100 * y], s=36, color="#1d4ed8", facecolors="#1d4ed8" if on else "white",
                           edgecolors="#1d4ed8", zorder=3)
                ax.annotate(name, (x, 100 * y), textcoords="offset points", xytext=(5, 4), fontsize=8,
                            color="#1f2937")
            line = sorted((pts[i] for i in front), key=lambda p: p[0])
            ax.plot([p[0] for p in line], [100 * p[1] for p in line], color="#1d4ed8", linewidth=1, linestyle="--",
                    label="Pareto front", zorder=2)
            ax.margins(x=0.2, y=0.1)  # room for the labels of the outermost points
            ax.set_xlabel(label + (" →" if higher else " ← lower is better"))
            ax.set_ylabel(f"{metric} (mean, %)")
            ax.grid(True, which="major", color="#e5e7eb", linewidth=0.6)
            ax.legend(loc="best", frameon=False)
            fig.tight_layout()
            name = f"{table['bench'].id}--{suffix}.svg"
            fig.savefig(out_dir / name, format="svg", metadata={"Date": None})
        best = ", ".join(names[i] for i in front)
        made.append({"file": name, "title": f"{metric} against {label.split(' (')[0]}",
                     "alt": f"Scatter plot of {metric} against {label} for {len(pts)} detectors; Pareto front: {best}",
                     "front": [names[i] for i in front]})
    return made
