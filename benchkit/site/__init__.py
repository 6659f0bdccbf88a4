"""The static leaderboard site: built from result records into plain HTML files, no server needed.

Layout of a built site::

    index.html                     benchmarks, detectors, every detector x benchmark row (filterable)
    benchmarks/<dataset--setting>.html   ranking table (rows by `benchkit.aggregate.KEY`), older detector versions
                                   apart, per-category tables, plots, reported vs reproduced (with the papers'
                                   efficiency and hardware beside the measured), failed and skipped jobs
    detectors/<name>.html          plugin, paper, parameters, weights, every result, the papers' ablation tables
    records/<job>.html, .json      provenance, config, efficiency, metrics with intervals; the raw record
    galleries/<dataset--setting>.html    input / ground truth / map pictures side by side across detectors
    plots/*.svg, thumbs/<job>/*.png, style.css, site.js

Pages are rendered with jinja2 with autoescaping (names, messages and parameters come from plugins and records),
reference only local files, and read fully without scripts; ``site.js`` only adds column sorting and filters.
Modules: `model` gathers the inputs, `tables` builds a benchmark's tables, `pages` the other pages' contexts,
`plots` the SVG pictures, `fmt` how numbers read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from benchkit.site import pages, plots
from benchkit.provenance import web_url
from benchkit.site.model import SiteData, load_site_data
from benchkit.site.tables import BenchmarkTables

ASSETS = ("style.css", "site.js")
PAGE_FOLDERS = ("benchmarks", "detectors", "records", "galleries", "plots", "thumbs")
#: Written into every built site; a rebuild replaces the page folders only of a folder that holds it.
MARKER = ".benchkit-site"
#: The digest of what a built site was made from (`inputs_digest`), for `build_site(reuse=True)`.
INPUTS_STAMP = ".inputs.sha256"


def inputs_digest(results_dir: str | Path, out: Path, reported_dir: str | Path | None = None) -> str:
    """A digest of everything a site is built from: benchkit's version, every file under the results folder (name,
    size, modification time; the site's own folder excluded), the installed detectors and datasets with their
    versions, and the reported-numbers files. Equal digests mean a rebuild would write the same site."""
    from benchkit import __version__
    from benchkit.plugins import get_registry
    from benchkit.reported import reported_files

    digest = hashlib.sha256(__version__.encode())
    root, site = Path(results_dir).resolve(), out.resolve()

    def add_file(path: Path, name: str) -> None:
        stat = path.stat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())

    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if Path(folder, d) != site)  # not the site's own pages
        for name in sorted(files):
            path = Path(folder, name)
            add_file(path, str(path.relative_to(root)))
    registry = get_registry()
    for kind in ("detectors", "datasets"):
        for name, spec in sorted(getattr(registry, kind).items()):
            digest.update(f"{kind}\0{name}\0{spec.version}\n".encode())
    extra = sorted(Path(reported_dir).glob("*.json")) if reported_dir is not None else []
    for path in [*reported_files(), *extra]:
        add_file(path, str(path))
    return digest.hexdigest()


def _claim(out: Path) -> None:
    """Refuse to build into a folder that holds other things (its page folders would be replaced)."""
    from benchkit.errors import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for the site")
    earlier = (out / MARKER).is_file() or ((out / "index.html").is_file() and (out / "style.css").is_file())
    if out.is_dir() and any(out.iterdir()) and not earlier:  # (a site from before the marker has those two)
        raise UsageError(f"--out {out}: this folder holds files that are not a benchkit site; give an empty or new "
                         f"folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("built by benchkit leaderboard build; its page folders are replaced on rebuild\n")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("benchkit", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    from benchkit import __version__

    env.globals["benchkit_version"] = __version__
    env.filters["web_url"] = web_url
    return env


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        dst.unlink(missing_ok=True)
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _copy_thumbnails(data: SiteData, out: Path) -> dict[str, dict[str, str]]:
    """Copy every job's pictures into the site; per record id, "<sample id>::<kind>" -> path from the site root.
    A picture is hard-linked where the file system allows (thumbnails are written anew, never changed in place,
    so the link keeps the site's copy as it was), else copied."""
    copied: dict[str, dict[str, str]] = {}
    for e in data.entries:
        items = data.thumbnails(e)
        if not items:
            continue
        folder = out / "thumbs" / e.id
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for item in items:
            for kind, src in item["files"].items():
                _link_or_copy(src, folder / src.name)
                files[f"{item['id']}::{kind}"] = f"thumbs/{e.id}/{src.name}"
        copied[e.id] = files
    return copied


def build_site(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    reported_dir: str | Path | None = None,
    expected: Mapping[str, Sequence[str]] | None = None,
    reuse: bool = False,
) -> Path:
    """Render the site of every record under ``results_dir`` into ``out_dir``; returns the path of ``index.html``.
    With ``reuse``, a site built from the same inputs (`inputs_digest`) is kept as it is (a rerun of
    ``benchkit run`` that ran nothing new does not spend seconds rewriting identical pages)."""
    out = Path(out_dir)
    _claim(out)
    digest = inputs_digest(results_dir, out, reported_dir)
    stamp = out / INPUTS_STAMP
    if reuse and expected is None and (out / "index.html").is_file() and stamp.is_file() \
            and stamp.read_text().strip() == digest:
        return out / "index.html"
    stamp.unlink(missing_ok=True)  # a build stopped half-way must not be taken for a finished one
    data = load_site_data(results_dir, reported_dir=reported_dir, expected=expected)
    for sub in PAGE_FOLDERS:
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True, exist_ok=True)
    env = _environment()

    def write(template: str, path: str, root: str, **context) -> None:
        (out / path).write_text(env.get_template(template).render(root=root, **context), encoding="utf-8")

    builder = BenchmarkTables(data)
    tables = {b.id: builder.benchmark(b) for b in [*data.benchmarks, *data.reported_benchmarks]}
    copied = _copy_thumbnails(data, out)
    galleries = {b.id: pages.gallery(data, b, copied) for b in data.benchmarks}
    for b in [*data.benchmarks, *data.reported_benchmarks]:
        t = tables[b.id]
        figures = plots.draw(t, out / "plots")
        write("benchmark.html.j2", b.href, "../", t=t, figures=figures, gallery=galleries.get(b.id),
              title=f"{b.dataset} · {b.setting}")
        if galleries.get(b.id):
            write("gallery.html.j2", f"galleries/{b.id}.html", "../", g=galleries[b.id],
                  title=f"Anomaly maps: {b.dataset} · {b.setting}")
    for name, info in data.detectors.items():
        ctx = pages.detector(data, name, tables)
        if ctx["sections"] or ctx["ablations"] or info.installed:
            write("detector.html.j2", info.href, "../", d=ctx, title=f"Detector {name}")
    for e in data.entries:
        write("record.html.j2", e.href, "../", r=pages.record(data, e), title=f"Record {e.id}")
        (out / "records" / f"{e.id}.json").write_text(e.record.model_dump_json(indent=2), encoding="utf-8")
    write("index.html.j2", "index.html", "", x=pages.index(data, tables), tables=tables, galleries=galleries,
          title="benchkit leaderboard")
    for asset in ASSETS:
        shutil.copyfile(Path(__file__).resolve().parent.parent / "templates" / asset, out / asset)
    if expected is None:  # ``expected`` (tests, scripts) is not among the digested inputs
        stamp.write_text(digest + "\n")
    return out / "index.html"


__all__ = ["build_site", "inputs_digest", "load_site_data"]
