"""benchkit.site: the pages a built site holds, parsed back (benchmarks, detectors, records, escaping, links,
reported vs reproduced, skipped-only benchmarks) and how numbers read."""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import CATS, make_record, scenario, write_scenario  # noqa: E402

from benchkit.results import config_hash  # noqa: E402
from benchkit.site import build_site, fmt  # noqa: E402
from benchkit.provenance import web_url  # noqa: E402
from benchkit.site.model import paper_url  # noqa: E402
from benchkit.site.plots import pareto_front  # noqa: E402

EXPECTED = {"toy": CATS}


class _Page(HTMLParser):
    """Cells (tag, attrs, text, hrefs inside), links, scripts (inline ones separately) and images of a page."""

    def __init__(self):
        super().__init__()
        self.cells, self.links, self.scripts, self.inline_scripts, self.images = [], [], [], 0, []
        self._open, self._in_script = None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src"))
            self._in_script = True
        if tag in ("td", "th"):
            self._open = [tag, a, "", []]
        if tag == "a":
            self.links.append(a.get("href"))
            if self._open is not None:
                self._open[3].append(a.get("href"))
        if tag == "img":
            self.images.append(a)

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag in ("td", "th") and self._open is not None:
            self._open[2] = " ".join(self._open[2].split())
            self.cells.append(tuple(self._open))
            self._open = None


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def _site(tmp_path, records=None, reported_dir=None):
    return build_site(write_scenario(tmp_path / "res", records), tmp_path / "site", expected=EXPECTED,
                      reported_dir=reported_dir)


def test_benchmark_page_ranks_marks_escapes_and_links_every_number(tmp_path):
    index = _site(tmp_path)
    site = index.parent
    page_path = site / "benchmarks" / "toy--one-model-one-class.html"
    html = page_path.read_text()
    p = _parse(page_path)
    texts = [c[2] for c in p.cells]
    assert p.scripts == ["../site.js"] and p.inline_scripts == 0
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "ranked by i_auroc" in " ".join(html.split()).replace("<code>", "").replace("</code>", "")
    assert "81.0 ± 1.4" in texts and "95.0" in texts
    best = {c[2] for c in p.cells if "best" in c[1].get("class", "")}
    assert "81.0 ± 1.4" in best and "10.0" not in best  # equal throughputs: nobody is best
    assert any(t.startswith("good random-init") for t in texts)
    assert any(t.startswith("partial incomplete") for t in texts)
    assert any(c[2] == "failed" and "CUDA out of memory" in c[1].get("title", "") for c in p.cells)
    assert "SkipJob: weights file /w/pointmae.pth not found" in texts
    assert "95% CI" in html  # single-seed intervals as visible text, not only on hover
    numbers = [c for c in p.cells if c[0] == "td" and "num" in c[1].get("class", "") and c[2] not in ("", "–")
               and c[2][0].isdigit() and c[1].get("data-sort") != "" and "rank" not in c[1].get("class", "")]
    linked = [c for c in numbers if c[3]]
    assert len(linked) >= 0.9 * len(numbers) and len(linked) > 20
    for c in linked:  # every link points at a page that exists
        target = c[3][0].split("#")[0]
        assert not target or (page_path.parent / target).resolve().is_file(), c
    assert all(not (h or "").startswith(("http:", "https:", "//")) for h in p.links)
    assert {i["src"] for i in p.images} == {"../plots/toy--one-model-one-class--throughput.svg",
                                            "../plots/toy--one-model-one-class--memory.svg"}
    assert all(i.get("alt") for i in p.images)
    svg = (site / "plots" / "toy--one-model-one-class--throughput.svg").read_text()
    assert "<script" not in svg and "&lt;script&gt;" in svg and "Pareto front" in svg


def test_index_lists_every_benchmark_even_all_skipped_and_counts_add_up(tmp_path):
    recs = scenario() + [make_record("det", c, 0, status="skipped", setting="few-shot:5", error="needs rgb")
                         for c in CATS]
    index = _site(tmp_path, recs)
    html = index.read_text()
    p = _parse(index)
    assert "benchmarks/toy--few-shot-5.html" in p.links
    few = (index.parent / "benchmarks" / "toy--few-shot-5.html").read_text()
    assert "nothing ran" in html and few.count("needs rgb") == 3 and "0 failed, 3 skipped" in few
    n_skipped = sum(r.status == "skipped" for r in recs)
    assert f"{n_skipped} skipped" in html
    per_benchmark = [int(c[2]) for c in p.cells if "n-skipped" in c[1].get("class", "")]
    assert len(per_benchmark) == 3 and sum(per_benchmark) == n_skipped  # every skip is listed on some page


def test_record_page_has_provenance_config_efficiency_intervals_and_raw_json(tmp_path):
    rec = make_record("good", "a", 0, {"a": {"i_auroc": 0.8}})
    rec.intervals = {"a": {"i_auroc": [0.7, 0.9]}}
    rec.efficiency.fit_seconds = 0.025
    index = _site(tmp_path, [rec])
    page = index.parent / "records" / "toy--000.html"
    html = page.read_text()
    assert "95% CI 70.0–90.0" in html and "0.025" in html and "x86" in html and "threads" in html
    assert "&#34;name&#34;: &#34;good&#34;" in html  # the config, escaped
    raw = json.loads((index.parent / "records" / "toy--000.json").read_text())
    assert raw["job"]["detector"] == "good" and raw["metrics"]["a"]["i_auroc"] == 0.8
    assert 'href="toy--000.json"' in html and "../detectors/good.html" in html


def test_detector_page_shows_parameters_bank_and_all_results(tmp_path):
    recs = [make_record("bank", c, 0, {c: {"i_auroc": 0.7}}) for c in CATS]
    for r in recs:
        r.job.config["detector"]["params"] = {"k": 3, "note": "<b>x</b>"}
        r.job.config_hash = config_hash(r.job.config)
        r.efficiency.parameters = None
        r.efficiency.memory_bank_bytes = 2_500_000
    recs += [make_record("bank", c, 0, {c: {"i_auroc": 0.6}}, setting="unified") for c in CATS]
    index = _site(tmp_path, recs)
    page = (index.parent / "detectors" / "bank.html").read_text()
    assert "&#34;k&#34;: 3" in page and "&lt;b&gt;x&lt;/b&gt;" in page and "Used by 3 records" in page
    assert 'id="toy--one-model-one-class"' in page and 'id="toy--unified"' in page
    bench = (index.parent / "benchmarks" / "toy--one-model-one-class.html").read_text()
    assert "2.5 MB" in bench and ">params<" not in bench  # the bank size, not an empty parameters column


def test_reported_rows_beside_reproduced_with_deltas_and_never_ranked(tmp_path):
    rep = tmp_path / "reported"
    rep.mkdir()
    (rep / "paper.json").write_text(json.dumps({"paper": "A paper", "source": "test", "tables": [{
        "table": "Table 9", "dataset": "real3d-ad", "scale": "percent", "metric_names": {"O-AUROC": "i_auroc"},
        "hardware": "one RTX 3090",
        "entries": [{"method": "BTF(Raw)", "detector": "btf-raw", "setting": "one-model-one-class",
                     "values": {"airplane": {"i_auroc": 73.0}, "mean": {"i_auroc": 99.9}},
                     "efficiency": {"throughput_per_s": 2.5}},
                    {"method": "Other", "detector": None, "setting": "one-model-one-class",
                     "values": {"mean": {"i_auroc": 12.3}}}]}]}))
    recs = [make_record("btf-raw", "airplane", 0, {"airplane": {"i_auroc": 0.6}}, dataset="real3d-ad")]
    index = build_site(write_scenario(tmp_path / "res", recs), tmp_path / "site", reported_dir=rep,
                       expected={"real3d-ad": ["airplane"]})
    page = index.parent / "benchmarks" / "real3d-ad--one-model-one-class.html"
    p = _parse(page)
    texts = [c[2] for c in p.cells]
    assert "reported BTF(Raw) (paper, Table 9)" in texts and "99.9" in texts and "73.0" in texts and "60.0" in texts
    assert "reported Other" in texts and "12.3" in texts
    assert "-39.9" in texts  # reproduced 60.0 - reported 99.9
    assert "2.5 FPS" in texts and "one RTX 3090" in texts
    assert "10 samples/s on cpu" in texts  # the same detector's median measured here, beside the paper's
    assert "99.9" not in {c[2] for c in p.cells if "best" in c[1].get("class", "")}


def test_number_formats():
    assert fmt.pct(0.81, 0.0) == "81.0" and fmt.pct(0.81, 0.014) == "81.0 ± 1.4"
    assert fmt.pct(0.81, 0.0002) == "81.0 ± <0.1"
    assert fmt.sig(0.025) == "0.025" and fmt.sig(1234.5) == "1234" and fmt.sig(12.345) == "12.3" and fmt.sig(None) == ""
    assert fmt.count(1_500_000) == "1.5M" and fmt.size_bytes(2_500_000) == "2.5 MB"
    assert fmt.interval(0.7, 0.9) == "95% CI 70.0–90.0" and fmt.delta(-0.399) == "-39.9"
    assert fmt.slug("sedir--fpfh") == "sedir--fpfh" and fmt.slug("<a>") != fmt.slug("(a)")


def test_pareto_front():
    # (throughput, accuracy): the fast-and-good point and the best-accuracy point are on the front
    pts = [(10.0, 0.8), (1.0, 0.9), (5.0, 0.7), (10.0, 0.6)]
    assert pareto_front(pts, higher_x=True) == [0, 1]
    # (memory, accuracy): lower memory is better
    assert pareto_front([(100.0, 0.8), (50.0, 0.8), (500.0, 0.95)], higher_x=False) == [1, 2]


def test_links_only_to_web_addresses():
    assert paper_url("Li et al., arXiv 2604.22899, 2026") == "https://arxiv.org/abs/2604.22899"
    assert paper_url("see https://example.org/p.pdf), 2024") == "https://example.org/p.pdf" and paper_url("x") == ""
    assert web_url("javascript:alert(1)") == "" and web_url("https://a.b/c") == "https://a.b/c"
    assert web_url('https://a.b/"onmouseover=x') == ""


def test_build_refuses_a_folder_that_is_not_a_site(tmp_path):
    import pytest

    from benchkit.errors import UsageError

    res = write_scenario(tmp_path / "res", [make_record("good", "a", 0)])
    other = tmp_path / "mine"
    (other / "records").mkdir(parents=True)
    (other / "records" / "keep.txt").write_text("not a site")
    with pytest.raises(UsageError, match="not a benchkit site"):
        build_site(res, other)
    assert (other / "records" / "keep.txt").is_file()
    site = tmp_path / "site"
    build_site(res, site)
    build_site(res, site)  # a rebuild of a site is fine


def test_record_page_lists_every_sample_score(tmp_path):
    rec = make_record("good", "a", 0, {"a": {"i_auroc": 0.8}})
    index = _site(tmp_path, [rec])
    page = _parse(index.parent / "records" / "toy--000.html")
    rows = [c for c in page.cells if c[0] == "th" and c[1].get("scope") == "row" and c[2] in {s.id for s in rec.samples}]
    assert len(rows) == len(rec.samples) == 20


def _table(html: str, table_id: str) -> _Page:
    """One table of a page, parsed."""
    start = html.index(f'id="{table_id}"')
    return _parse_text(html[start:html.index("</table>", start)])


def _parse_text(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_rows_keep_versions_and_weights_apart_and_older_versions_are_shown_apart(tmp_path):
    recs = [make_record("det", c, 0, {c: {"i_auroc": 0.9}}, version="1") for c in CATS]  # superseded, better
    recs += [make_record("det", c, 0, {c: {"i_auroc": 0.7}}, version="2") for c in CATS]
    recs += [make_record("det", c, 0, {c: {"i_auroc": 0.95}}, version="2", weights="random-init") for c in CATS]
    recs += [make_record("other", c, 0, {c: {"i_auroc": 0.8}}) for c in CATS]
    index = _site(tmp_path, recs)
    html = (index.parent / "benchmarks" / "toy--one-model-one-class.html").read_text()
    ranking, stale = _table(html, "ranking-table"), _table(html, "stale-table")
    heads = [c[2] for c in ranking.cells if c[0] == "th" and c[1].get("scope") == "row"]
    assert heads == ["other", "det v2", "det random-init v2"]  # ranked first; random-init last, unranked
    ranks = [c[2] for c in ranking.cells if "rank" in c[1].get("class", "")]
    assert ranks == ["1", "2", ""]
    best = [c[2] for c in ranking.cells if "best" in c[1].get("class", "")]
    assert best == ["80.0"]  # the random-init 95.0 is higher, but never ranked against pretrained rows
    assert "90.0" not in [c[2] for c in ranking.cells]  # version 1 is never mixed into version 2's row
    assert [c[2] for c in stale.cells if c[0] == "th" and c[1].get("scope") == "row"] == ["det older version v1"]
    assert "90.0" in [c[2] for c in stale.cells] and not [c for c in stale.cells if "best" in c[1].get("class", "")]
    detector = (index.parent / "detectors" / "det.html").read_text()
    assert "det older version v1" in [c[2] for c in _parse_text(detector).cells]
    from benchkit.leaderboard import show_text

    assert "det [older version v1]" in show_text(index.parent.parent / "res", expected=EXPECTED)


def _reported_papers(folder: Path) -> Path:
    folder.mkdir()
    entry = {"method": "Det", "detector": "det", "setting": "one-model-one-class",
             "values": {**{c: {"i_auroc": 80.0} for c in CATS},
                        "mean": {"i_auroc": 85.0, "aupro@0.3/legacy100": 90.0, "aupro@0.3/legacy99": 88.0}},
             "mean_differs": ["i_auroc"], "efficiency": {"memory_mb": 2048.0}}
    (folder / "paper.json").write_text(json.dumps({"paper": "The det paper", "source": "test", "tables": [
        {"table": "Table 1", "dataset": "toy", "scale": "percent", "metric_names": {"I-AUROC": "i_auroc"},
         "aupro_utility": "the 100-threshold utility of the authors' code", "hardware": "one A100",
         "note": "memory: peak GPU", "entries": [entry]},
        {"table": "Table 5 (ablation)", "dataset": "toy", "scale": "percent", "kind": "ablation",
         "metric_names": {"I-AUROC": "i_auroc"}, "note": "switch B is unreadable in the text version",
         "entries": [{"method": "without A", "detector": "det", "setting": "one-model-one-class",
                      "configuration": {"A": False, "B": None}, "params": {"use_a": False},
                      "values": {"mean": {"i_auroc": 71.5}}},
                     {"method": "full", "detector": "det", "setting": "one-model-one-class",
                      "configuration": {"A": True, "B": True}, "values": {"mean": {"i_auroc": 85.0}}}]}]}))
    return folder


def test_paper_means_legacy_aupro_efficiency_and_ablations(tmp_path):
    recs = [make_record("det", c, 0, {c: {"i_auroc": 0.8, "aupro@0.3": 0.65, "aupro@0.3/legacy100": 0.6}})
            for c in CATS]
    index = _site(tmp_path, recs, reported_dir=_reported_papers(tmp_path / "reported"))
    html = (index.parent / "benchmarks" / "toy--one-model-one-class.html").read_text()
    deltas = _table(html, "deltas-table")
    rows = {}
    for c in deltas.cells:
        if c[0] == "th" and c[1].get("scope") == "row":
            rows[len(rows)] = []
        elif c[0] == "th":
            continue
        else:
            rows[len(rows) - 1].append(c[2])
    by_metric = {r[1].split("AU")[0].split("object")[0]: r for r in rows.values()}  # the name, then its meaning
    # the paper's mean disagrees with its own categories: flagged, their mean beside it
    assert by_metric["i_auroc"][2] == "85.0the paper's mean; its categories give 80.0"
    assert by_metric["i_auroc"][3:5] == ["80.0", "-5.0"]
    # a legacy AU-PRO only against the same legacy variant (60.0), never the exact one (65.0), and it says which
    legacy = by_metric["aupro@0.3/legacy100"]
    assert legacy[2:5] == ["90.0", "60.0", "-30.0"] and "quantile-threshold utility" in legacy[1]
    assert "100 thresholds" in legacy[1] and "the 100-threshold utility of the authors' code" in legacy[1]
    assert by_metric["aupro@0.3/legacy99"][3] == "not measuredthis row has aupro@0.3, aupro@0.3/legacy100 only"
    glossary = re.sub(r"<[^>]+>", "", html[html.index("<dt>Metrics</dt>"):].split("</dd>")[0])
    assert "aupro@0.3: AU-PRO up to FPR 0.3; exact" in glossary and "aupro@0.3/legacy99: AU-PRO" in glossary
    ranking = _table(html, "ranking-table")
    flagged = [c for c in ranking.cells if "differs" in c[1].get("class", "")]
    assert [c[2] for c in flagged] == ["85.0categories give 80.0"]
    eff = [c[2] for c in _table(html, "efficiency-table").cells]
    assert "2048 MB" in eff and "one A100" in eff and "512 MB peak resident on cpu" in eff
    detector = (index.parent / "detectors" / "det.html").read_text()
    cells = [c[2] for c in _parse_text(detector[detector.index('id="ablations"'):]).cells]
    assert "A: no; B: not recoverable from the paper's text" in cells and "71.5" in cells
    assert '{"use_a": false}' in cells and "not known" in cells  # the full row names no parameters
    assert "switch B is unreadable in the text version" in detector
    assert "71.5" not in html  # ablation rows stay on the detector page, out of the benchmark's tables


def test_a_site_built_from_the_same_inputs_is_reused_and_rebuilt_when_a_record_changes(tmp_path):
    """`benchkit run` rebuilds its site with reuse=True: a rerun that ran nothing keeps the pages; a changed record
    (or any other input) rebuilds them."""
    import os

    results = write_scenario(tmp_path / "res")
    index = build_site(results, tmp_path / "site", reuse=True)
    first = index.stat().st_mtime_ns
    os.utime(index, ns=(first - 10**9, first - 10**9))  # so that a rewrite would show
    assert build_site(results, tmp_path / "site", reuse=True).stat().st_mtime_ns == first - 10**9
    record = next(results.rglob("*.json"))
    os.utime(record, ns=(first + 10**9, first + 10**9))
    assert build_site(results, tmp_path / "site", reuse=True).stat().st_mtime_ns > first - 10**9
    before = index.stat().st_mtime_ns
    os.utime(index, ns=(before - 10**9, before - 10**9))
    assert build_site(results, tmp_path / "site").stat().st_mtime_ns > before - 10**9  # without reuse: always
