"""benchkit.leaderboard: the static site (parsed back), escaping, marks, reported rows; terminal views;
the reported-numbers files."""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import CATS, make_record, write_scenario  # noqa: E402

from benchkit.leaderboard import build_site, compare_text, show_text  # noqa: E402
from benchkit.reported import load_reported, reported_rows  # noqa: E402

EXPECTED = {"toy": CATS}


class _Cells(HTMLParser):
    """Collects (tag, attrs, text) of every td/th and whether any <script> element exists."""

    def __init__(self):
        super().__init__()
        self.cells, self.scripts, self._open = [], 0, None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag in ("td", "th"):
            self._open = [tag, dict(attrs), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._open is not None:
            self._open[2] = " ".join(self._open[2].split())
            self.cells.append(tuple(self._open))
            self._open = None


def _site(tmp_path, records=None, reported_dir=None):
    index = build_site(write_scenario(tmp_path / "res", records), tmp_path / "site", expected=EXPECTED,
                       reported_dir=reported_dir)
    html = index.read_text()
    parser = _Cells()
    parser.feed(html)
    return index, html, parser


def test_site_has_tables_marks_and_no_script(tmp_path):
    index, html, p = _site(tmp_path)
    assert index.name == "index.html" and (index.parent / "style.css").is_file()
    texts = [c[2] for c in p.cells]
    assert p.scripts == 0 and "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the hostile detector name, escaped
    assert "81.0 ± 1.4" in texts  # mean ± std over two seeds
    best = [c for c in p.cells if "best" in c[1].get("class", "")]
    assert ("td", "81.0 ± 1.4") in {(c[0], c[2]) for c in best}
    assert any(t.startswith("good random-init") for t in texts)
    assert "partial incomplete" in texts and "incomplete" in texts
    failed = [c for c in p.cells if c[2] == "failed" and "CUDA out of memory" in c[1].get("title", "")]
    assert failed  # the failed category cell carries its reason on hover
    assert "SkipJob: weights file /w/pointmae.pth not found" in texts  # jobs table
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_reported_numbers_beside_reproduced_and_never_ranked(tmp_path):
    rep = tmp_path / "reported"
    rep.mkdir()
    (rep / "paper.json").write_text("""{"paper": "A paper", "source": "test", "tables": [{"table": "Table 9",
      "dataset": "real3d-ad", "scale": "percent", "metric_names": {"O-AUROC": "i_auroc"}, "entries": [
      {"method": "BTF(Raw)", "detector": "btf-raw", "setting": "one-model-one-class",
       "values": {"airplane": {"i_auroc": 73.0}, "mean": {"i_auroc": 99.9}}},
      {"method": "Other", "detector": null, "setting": "one-model-one-class", "values": {"mean": {"i_auroc": 12.3}}}]}]}""")
    recs = [make_record("btf-raw", "airplane", 0, {"airplane": {"i_auroc": 0.6}}, dataset="real3d-ad")]
    _, html, p = _site(tmp_path, recs, reported_dir=rep)
    texts = [c[2] for c in p.cells]
    assert "reported BTF(Raw) (paper, Table 9)" in texts and "99.9" in texts and "73.0" in texts and "60.0" in texts
    assert "reported Other (paper, Table 9)" in texts and "12.3" in texts
    best = {c[2] for c in p.cells if "best" in c[1].get("class", "")}
    assert "99.9" not in best


def test_show_and_compare_text(tmp_path):
    res = write_scenario(tmp_path / "res")
    text = show_text(res, expected=EXPECTED)
    assert "== toy / one-model-one-class" in text and "81.0 ± 1.4" in text
    assert "partial [incomplete]" in text and "failed: partial c seed 0: RuntimeError: CUDA out of memory" in text
    per_cat = show_text(res, setting="unified", metric="i_auroc", expected=EXPECTED)
    assert "uni" in per_cat and "60.0" in per_cat and "one-model-one-class" not in per_cat
    cmp = compare_text(res, "good", "<script>alert(1)</script>", dataset="toy", setting="one-model-one-class")
    assert "only 3 categories" in cmp and "+25.0" in cmp  # 0.90 (seed 0, pretrained, not random-init) vs 0.65
    assert "no records of nobody" in compare_text(res, "good", "nobody", dataset="toy", setting="one-model-one-class")


def test_reported_files_validate_and_cover_the_papers():
    papers = load_reported()
    assert set(papers) == {"sedir-cvpr2026", "text-guided-unified", "mafr", "mamba3dad"}
    rows = reported_rows(papers)
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    sedir = [r for r in rows if r["method"] == "SeDiR (Ours)" and r["dataset"] == "anomaly-shapenet"]
    assert len(sedir) == 41 and {r["setting"] for r in sedir} == {"unified"}  # 40 categories + mean
    mean = next(r for r in sedir if r["category"] == "mean")
    assert abs(mean["value"] - 0.933) < 1e-9
    mafr_fs = [r for r in rows if r["paper"] == "mafr" and r["setting"] == "few-shot:5" and r["method"] == "MAFR"]
    assert {r["metric"]: r["value"] for r in mafr_fs} == {"i_auroc": 0.824, "p_auroc": 0.987,
                                                          "aupro@0.3/legacy99": 0.945, "aupro@0.01/legacy99": 0.382}
