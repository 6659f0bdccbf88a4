"""benchkit.reported: every transcribed paper file against the schema, every printed mean against its categories,
and the schema's rules (legacy AU-PRO names, hardware beside efficiency, declared mean disagreements)."""

import copy
import json
from pathlib import Path

import pytest

from benchkit.dataset_tools import load_meta
from benchkit.errors import DataError
from benchkit.reported import (MEAN_TOLERANCE_POINTS, ReportedPaper, load_reported, reported_efficiency, reported_files,
                               reported_rows)

FILES = reported_files()  # shipped by the installed plugins (DetectorSpec.reported)


def test_the_four_papers_are_there():
    assert {p.stem for p in FILES} == {"sedir-cvpr2026", "text-guided-unified", "mafr", "mamba3dad"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_file_matches_schema_datasets_and_categories(path):
    paper = ReportedPaper.model_validate(json.loads(path.read_text()))
    for table in paper.tables:
        categories = set(load_meta(table.dataset).categories)  # the dataset plugin's metadata
        for e in table.entries:
            unknown = set(e.values) - categories - {"mean"}
            assert not unknown, f"{path.name} / {table.table} / {e.method}: categories {sorted(unknown)}"
            if len(e.values) > 1:  # per-category rows cover the whole benchmark, so their mean is checkable
                assert set(e.values) == categories | {"mean"}, f"{table.table} / {e.method}: partial categories"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_printed_mean_agrees_with_its_categories_or_is_declared(path):
    """Recomputed here independently of the validator: a disagreement > 0.1 points is the paper's only when the
    file declares it; an undeclared one would be a transcription error."""
    paper = ReportedPaper.model_validate(json.loads(path.read_text()))
    for table in paper.tables:
        points = 1.0 if table.scale == "percent" else 100.0
        for e in table.entries:
            cats = [c for c in e.values if c != "mean"]
            for metric, printed in e.values.get("mean", {}).items():
                if not cats:
                    continue
                recomputed = sum(e.values[c][metric] for c in cats) / len(cats)
                differs = abs(recomputed - printed) * points > MEAN_TOLERANCE_POINTS + 1e-9
                assert differs == (metric in e.mean_differs), (table.table, e.method, metric, printed, recomputed)


def test_known_paper_inconsistencies_are_flagged_with_the_recomputed_mean():
    rows = reported_rows(load_reported())
    m3dm = next(r for r in rows if r["paper"] == "sedir-cvpr2026" and r["dataset"] == "real3d-ad"
                and r["method"] == "M3DM" and r["category"] == "mean")
    assert m3dm["mean_differs"] and m3dm["value"] == pytest.approx(0.594)
    assert m3dm["recomputed"] == pytest.approx(0.5516, abs=1e-4)
    sedir = next(r for r in rows if r["method"] == "SeDiR (Ours)" and r["dataset"] == "real3d-ad"
                 and r["category"] == "mean")
    assert not sedir["mean_differs"] and abs(sedir["recomputed"] - sedir["value"]) <= 0.001


def test_settings_and_legacy_aupro_names():
    rows = reported_rows(load_reported())
    tg = [r for r in rows if r["paper"] == "text-guided-unified"]
    # BTF, AST and M3DM in the unified paper are class-specific numbers copied from their papers
    assert {r["setting"] for r in tg if r["method"] in ("BTF", "AST", "M3DM")} == {"one-model-one-class"}
    assert {r["setting"] for r in tg if r["method"] in ("CFM", "G2SF")} == {"unified"}
    assert all("/legacy" in r["metric"] for r in rows if r["metric"].startswith("aupro@"))
    btf = {r["metric"] for r in tg if r["method"] == "BTF"}
    assert {"aupro@0.3/legacy100", "aupro@0.01/legacy99"} <= btf
    assert all(t.aupro_utility for p in load_reported().values() for t in p.tables
               if any(m.startswith("aupro@") for e in t.entries for v in e.values.values() for m in v))


def test_ablation_tables_are_separate_and_give_sedir_a_pixel_auroc():
    papers = load_reported()
    assert not any(r["kind"] == "ablation" for r in reported_rows(papers))  # default: comparison tables only
    abl = reported_rows(papers, kind="ablation")
    counts = {}
    for r in abl:
        counts.setdefault(r["paper"], set()).add(r["table"])
    assert {k: len(v) for k, v in counts.items()} == {"sedir-cvpr2026": 4, "text-guided-unified": 2, "mafr": 2}
    full = [r for r in abl if r["paper"] == "sedir-cvpr2026" and r["metric"] == "p_auroc" and "full" in r["method"]]
    assert len(full) == 4 and all(r["value"] == pytest.approx(0.806) for r in full)
    guidance = next(e for t in papers["sedir-cvpr2026"].tables if "guidance" in t.table for e in t.entries
                    if e.method == "Masking")
    assert guidance.params == {"guidance": "masking"}


def test_efficiency_comes_with_hardware():
    eff = reported_efficiency(load_reported())
    assert eff and all(r["hardware"] for r in eff)
    mamba = next(r for r in eff if r["method"] == "Mamba adapters (ours)" and r["dataset"] == "anomaly-shapenet")
    assert mamba["value"] == 17.31 and "RTX 3090" in mamba["hardware"]
    ours = {r["field"]: r["value"] for r in eff if r["paper"] == "text-guided-unified" and r["detector"] == "text-guided"}
    assert ours == {"memory_mb": 1089.8, "throughput_per_s": 10.1}


# -- the schema's rules ---------------------------------------------------------------------------------------------
BASE = {"paper": "P", "source": "test", "tables": [{
    "table": "T1", "dataset": "real3d-ad", "scale": "percent", "metric_names": {"X": "i_auroc"},
    "entries": [{"method": "M", "setting": "unified",
                 "values": {"airplane": {"i_auroc": 70.0}, "car": {"i_auroc": 80.0}, "mean": {"i_auroc": 75.0}}}]}]}


def _load(tmp_path, edit):
    data = copy.deepcopy(BASE)
    edit(data["tables"][0])
    (tmp_path / "p.json").write_text(json.dumps(data))
    return load_reported(tmp_path)


def test_schema_accepts_the_base_file(tmp_path):
    assert _load(tmp_path, lambda t: None)["p"].tables[0].entries[0].recomputed_mean("i_auroc") == 75.0


@pytest.mark.parametrize("edit, message", [
    (lambda t: t["entries"][0]["values"]["mean"].update(i_auroc=76.0), "fix the transcription"),
    (lambda t: t["entries"][0].update(mean_differs=["i_auroc"]), "agree with their categories"),
    (lambda t: t["entries"][0]["values"]["mean"].update({"aupro@0.3": 90.0}), "legacy name"),
    (lambda t: t["entries"][0]["values"]["mean"].update({"aupro@0.3/legacy100": 90.0}), "aupro_utility"),
    (lambda t: t["entries"][0].update(efficiency={"throughput_per_s": 3.0}), "hardware"),
    (lambda t: t.update(kind="ablation"), "configuration"),
    (lambda t: t["entries"][0].update(setting="unified-sometimes"), "unknown setting"),
    (lambda t: t.update(dataset="Real3D AD"), "dataset name"),
])
def test_schema_rejects(tmp_path, edit, message):
    with pytest.raises(DataError, match=message):
        _load(tmp_path, edit)


def test_declared_paper_disagreement_loads(tmp_path):
    def edit(t):
        t["entries"][0]["values"]["mean"]["i_auroc"] = 76.0
        t["entries"][0]["mean_differs"] = ["i_auroc"]
    row = next(r for r in reported_rows(_load(tmp_path, edit)) if r["category"] == "mean")
    assert row["mean_differs"] and row["value"] == pytest.approx(0.76) and row["recomputed"] == pytest.approx(0.75)
