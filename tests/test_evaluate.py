"""benchkit.evaluate: maps written in the official layouts (tiny copies of the datasets), scored and checked."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from benchkit import DataError
from benchkit.evaluate import evaluate_maps, map_path
from benchkit.metrics import DEFAULT_ORGANIZED, DEFAULT_POINTS, compute_metrics
from benchkit.plugins import get_registry
from benchkit.scoring import resize_map

testing = pytest.importorskip("benchkit_datasets.testing")
tifffile = pytest.importorskip("tifffile")


def _reader(dataset: str, root: Path):
    return get_registry().get("datasets", dataset).factory(root)


@pytest.fixture(scope="module")
def mvtec(tmp_path_factory) -> Path:
    return testing.make_mvtec3d(tmp_path_factory.mktemp("mvtec3d"))


@pytest.fixture(scope="module")
def real3d(tmp_path_factory) -> Path:
    return testing.make_real3d(tmp_path_factory.mktemp("real3d"))


def _write_tiff_maps(root: Path, maps: Path, make_map) -> None:
    reader = _reader("mvtec3d", root)
    for category in reader.categories():
        for ref in reader.index(category, "test"):
            path = map_path(maps, ref, organized=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(path, make_map(reader.load(ref), reader).astype(np.float32))


def test_perfect_tiff_maps_in_the_official_layout(mvtec, tmp_path):
    def perfect(sample, reader):  # the ground truth itself, at the evaluation size
        return resize_map(sample.gt.astype(np.float32), reader.eval_size, nearest=True)

    _write_tiff_maps(mvtec, tmp_path, perfect)
    assert (tmp_path / "bagel" / "test" / "crack" / "000.tiff").is_file()  # <maps>/<class>/test/<defect>/<id>.tiff
    metrics, counts = evaluate_maps("mvtec3d", mvtec, tmp_path, "oracle")
    assert set(metrics) == {"bagel", "foam", "mean"}
    for category in ("bagel", "foam", "mean"):
        assert tuple(metrics[category]) == DEFAULT_ORGANIZED
        assert all(v == 1.0 for v in metrics[category].values()), metrics[category]
    assert counts["bagel"].model_dump() == {"train": 3, "test_normal": 2, "test_anomalous": 3}


def test_tiff_maps_at_original_size_are_resized_like_runs(mvtec, tmp_path):
    rng = np.random.default_rng(0)

    def noisy(sample, reader):
        return sample.gt / 255.0 * rng.random() + rng.random(sample.map_shape)

    _write_tiff_maps(mvtec, tmp_path, noisy)
    metrics, _ = evaluate_maps("mvtec3d", mvtec, tmp_path, "noisy")
    reader = _reader("mvtec3d", mvtec)
    refs = reader.index("foam", "test")
    maps = [tifffile.imread(map_path(tmp_path, r, True)) for r in refs]
    gts = [resize_map(reader.load(r).gt.astype(np.float32), (224, 224), nearest=True) > 0.5 for r in refs]
    expected = compute_metrics([r.label for r in refs], [m.max() for m in maps], gts,
                               [resize_map(m, (224, 224)) for m in maps], organized=True)
    assert metrics["foam"] == pytest.approx(expected, abs=1e-12)


def test_tiff_errors_name_the_file(mvtec, tmp_path):
    _write_tiff_maps(mvtec, tmp_path, lambda sample, reader: np.zeros(sample.map_shape))
    target = tmp_path / "foam" / "test" / "hole" / "000.tiff"

    target.unlink()
    with pytest.raises(DataError, match=r"foam/test/hole/000\.tiff: anomaly map missing"):
        evaluate_maps("mvtec3d", mvtec, tmp_path, "det")

    tifffile.imwrite(target, np.zeros((5, 7), np.float32))
    with pytest.raises(DataError, match=r"000\.tiff: anomaly map has shape \(5, 7\), expected 12x16 or 224x224"):
        evaluate_maps("mvtec3d", mvtec, tmp_path, "det")

    bad = np.zeros((12, 16), np.float32)
    bad[3, 4] = np.nan
    tifffile.imwrite(target, bad)
    with pytest.raises(DataError, match=r"000\.tiff: anomaly map contains NaN values \(1 of 192\)"):
        evaluate_maps("mvtec3d", mvtec, tmp_path, "det")


def test_unknown_category_folder_is_an_error(mvtec, tmp_path):
    (tmp_path / "tire").mkdir()
    with pytest.raises(DataError, match="'tire' is not a category of mvtec3d"):
        evaluate_maps("mvtec3d", mvtec, tmp_path, "det")


def _write_point_maps(root: Path, maps: Path, rows) -> None:
    reader = _reader("real3d-ad", root)
    for category in reader.categories():
        for ref in reader.index(category, "test"):
            sample = reader.load(ref)
            path = map_path(maps, ref, organized=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rows(sample))


def test_point_scores_one_per_line_and_xyz_score(real3d, tmp_path):
    _write_point_maps(real3d, tmp_path / "a", lambda s: "\n".join(f"{v:.3f}" for v in s.gt * 2.0 + 0.5) + "\n")
    metrics, counts = evaluate_maps("real3d-ad", real3d, tmp_path / "a", "oracle")
    assert tuple(metrics["airplane"]) == DEFAULT_POINTS
    assert metrics["airplane"] == {"i_auroc": 1.0, "i_aupr": 1.0, "p_auroc": 1.0, "p_aupr": 1.0}
    assert counts["shell"].model_dump() == {"train": 2, "test_normal": 3, "test_anomalous": 2}

    rng = np.random.default_rng(1)

    def xyz_score(sample):
        scores = rng.random(len(sample.points))
        return "\n".join(f"{x} {y} {z} {v}" for (x, y, z), v in zip(sample.points, scores)) + "\n"

    _write_point_maps(real3d, tmp_path / "b", xyz_score)
    metrics, _ = evaluate_maps("real3d-ad", real3d, tmp_path / "b", "random")
    reader = _reader("real3d-ad", real3d)
    refs = reader.index("shell", "test")
    scores = [np.loadtxt(map_path(tmp_path / "b", r, False))[:, 3] for r in refs]
    expected = compute_metrics([r.label for r in refs], [s.max() for s in scores],
                               [reader.load(r).gt for r in refs], scores, organized=False)
    assert metrics["shell"] == pytest.approx(expected, abs=1e-6)  # scores pass through float32


def test_point_score_errors_name_the_file(real3d, tmp_path):
    _write_point_maps(real3d, tmp_path, lambda s: "\n".join("0.5" for _ in s.points) + "\n")
    target = tmp_path / "shell" / "test" / "3_bulge.txt"
    target.write_text("0.1\n0.2\n")
    with pytest.raises(DataError, match=r"3_bulge\.txt: anomaly map has 2 scores but the test cloud has 95 points"):
        evaluate_maps("real3d-ad", real3d, tmp_path, "det")
    target.write_text("\n".join(["0.1"] * 94 + ["nan"]) + "\n")
    with pytest.raises(DataError, match=r"3_bulge\.txt: anomaly map contains NaN"):
        evaluate_maps("real3d-ad", real3d, tmp_path, "det")
    target.unlink()
    with pytest.raises(DataError, match=r"3_bulge\.txt: anomaly map missing"):
        evaluate_maps("real3d-ad", real3d, tmp_path, "det")


def test_embedded_dataset_without_root_uses_the_generated_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    from benchkit.evaluate import open_copy

    reader = open_copy("synthetic-pc", None)
    category = reader.categories()[0]
    maps = tmp_path / "maps"
    for ref in reader.index(category, "test"):
        path = map_path(maps, ref, organized=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(path, reader.load(ref).gt.astype(float))
    metrics, counts = evaluate_maps("synthetic-pc", None, maps, "oracle")
    assert list(metrics) == [category]  # only the categories with maps
    assert metrics[category]["p_auroc"] == 1.0 and metrics[category]["i_auroc"] == 1.0
    assert counts[category].test_anomalous > 0
    with pytest.raises(DataError, match="no root given"):
        evaluate_maps("mvtec3d", None, maps, "oracle")


def test_cli_writes_valid_records(mvtec, tmp_path, capsys):
    from benchkit.cli import main
    from benchkit.results import load_record

    maps = tmp_path / "maps"
    rng = np.random.default_rng(2)
    _write_tiff_maps(mvtec, maps, lambda sample, reader: rng.random(sample.map_shape) + sample.gt)
    results = tmp_path / "results"
    code = main(["evaluate", "--dataset", "mvtec3d", "--root", str(mvtec), "--maps", str(maps), "--name", "ext-det",
                 "--results", str(results)])
    assert code == 0
    out = capsys.readouterr().out
    assert "ext-det mvtec3d/bagel: i_auroc=" in out
    records = sorted(results.rglob("*.json"))
    assert [p.name for p in records] == ["bagel__seed0.json", "foam__seed0.json"]  # one per category
    record = load_record(records[0])
    assert record.status == "ok" and record.job.detector == "ext-det" and record.job.detector_version == "external"
    assert record.provenance.scored_in == "isolated"  # like run: in the answer process
    expected, counts = evaluate_maps("mvtec3d", mvtec, maps, "ext-det")
    assert record.metrics == {"bagel": expected["bagel"]}
    assert record.counts["bagel"] == counts["bagel"]
    assert len(record.samples) == 5

    (maps / "foam" / "test" / "good" / "001.tiff").unlink()
    assert main(["evaluate", "--dataset", "mvtec3d", "--root", str(mvtec), "--maps", str(maps), "--name", "x",
                 "--results", str(results)]) == 1
    assert "foam/test/good/001.tiff: anomaly map missing" in capsys.readouterr().err


def test_unified_setting_writes_one_record_for_all_categories(mvtec, tmp_path):
    from benchkit.evaluate import write_records
    from benchkit.results import load_record

    maps = tmp_path / "maps"
    _write_tiff_maps(mvtec, maps, lambda sample, reader: sample.gt.astype(np.float32))
    (path,) = write_records("mvtec3d", mvtec, maps, "ext", setting="unified", results=tmp_path / "results")
    record = load_record(path)
    assert path.name == "all__seed0.json" and record.job.category == "all"
    assert set(record.metrics) == {"bagel", "foam", "mean"}
    assert record.incomplete  # the tiny copy has 2 of the 10 MVTec 3D-AD categories


def test_evaluated_records_keep_their_own_identity(mvtec, tmp_path, capsys, monkeypatch):
    """Issue 11: `evaluate` never writes over a run's record, refuses registered detector names, names that are not
    plain identifiers and unregistered settings, and writes apart from run records."""
    from benchkit.cli import main
    from benchkit.results import load_record, write_record

    sys.path.insert(0, str(Path(__file__).parent))
    from records_factory import make_record

    maps = tmp_path / "maps"
    _write_tiff_maps(mvtec, maps, lambda sample, reader: sample.gt.astype(np.float32))
    results = tmp_path / "results"
    base = ["evaluate", "--dataset", "mvtec3d", "--root", str(mvtec), "--maps", str(maps), "--results", str(results)]
    for name in ("..", "../../etc", "a/b", "x\x1b[31m", "", ".hidden"):
        assert main([*base, "--name", name]) == 2
        assert "give a plain identifier" in capsys.readouterr().err
    assert main([*base, "--name", "btf-raw"]) == 2  # a registered detector: its records come from `benchkit run`
    assert "that is a registered detector" in capsys.readouterr().err
    for setting in ("../../x", "no-such-setting", "few-shot:lots"):
        assert main([*base, "--name", "ext", "--setting", setting]) == 2
        assert f"--setting {setting}:" in capsys.readouterr().err
    assert not results.exists()  # nothing written by any refused call

    assert main([*base, "--name", "ext"]) == 0
    (path, _) = sorted(results.rglob("*.json"))
    assert path.relative_to(results).parts[:2] == ("external", "mvtec3d")
    assert main([*base, "--name", "ext"]) == 0  # its own record: replaced
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(site)]) == 0
    assert any('title="detector_version">external</span>' in page.read_text() for page in site.rglob("*.html"))
    foreign = make_record("ext", "bagel", 0, dataset="mvtec3d")
    write_record(foreign, path)
    assert main([*base, "--name", "ext"]) == 1
    assert "a file that `benchkit evaluate` did not write is in the way; it is kept" in capsys.readouterr().err
    assert load_record(path) == foreign


def test_evaluate_scores_in_the_answer_process_out_of_reach_of_detector_plugins(mvtec, bk_env, monkeypatch):
    """As for `run` (tests/test_scoring_isolated.py): a plugin that patches `benchkit.metrics` when imported makes
    every metric 1.0 in this process, yet the records `evaluate` writes hold the honest chance-level scores of
    constant maps, and say where they were scored."""
    import benchkit.metrics
    from benchkit.evaluate import write_records
    from benchkit.results import load_record

    monkeypatch.setenv("BENCHKIT_PLUGINS", "fixture_plugins,hostile_metrics")
    monkeypatch.setattr(benchkit.metrics, "compute_metrics", benchkit.metrics.compute_metrics)  # restored after
    monkeypatch.delitem(sys.modules, "hostile_metrics", raising=False)  # imported afresh, so it patches again
    maps = bk_env / "maps"
    _write_tiff_maps(mvtec, maps, lambda sample, reader: np.zeros(sample.map_shape, np.float32))
    assert evaluate_maps("mvtec3d", mvtec, maps, "flat")[0]["bagel"]["i_auroc"] == 1.0  # patched here: the attack
    for path in write_records("mvtec3d", mvtec, maps, "flat", results=bk_env / "results"):
        record = load_record(path)
        assert record.provenance.scored_in == "isolated"
        (metrics,) = record.metrics.values()
        assert metrics["i_auroc"] == 0.5 and metrics["p_auroc"] == 0.5
    sys.modules.pop("hostile_metrics", None)


def test_non_utf8_point_scores_are_a_named_error(real3d, tmp_path):
    from benchkit.evaluate import read_point_scores

    path = tmp_path / "scores.txt"
    path.write_bytes(b"0.5\n\xff\xfe0.7\n")
    with pytest.raises(DataError, match="not a text file of numbers"):
        read_point_scores(path, 2)
