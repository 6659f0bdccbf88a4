"""benchkit.leaderboard: the terminal views and the reported-numbers files (the site: tests/test_site_*.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import CATS, write_scenario  # noqa: E402

from benchkit.leaderboard import compare_text, show_text  # noqa: E402
from benchkit.reported import load_reported, reported_rows  # noqa: E402

EXPECTED = {"toy": CATS}


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
