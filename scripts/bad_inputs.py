"""Try benchkit as a clumsy or hostile user would and count what happens (issue 11).

    .venv/bin/python scripts/bad_inputs.py [--verbose] [--only PREFIX]

Every case feeds one bad input (a record file, a dataset copy, a command-line argument, a misbehaving detector,
a signal) to the real command line and classifies the outcome:

- named: the command refused or recorded it with a message holding what the case expects (the file, the flag);
  for inputs that must be passed over (a stray JSON under --results) a named warning and a successful command
- traceback: a Python traceback reached the terminal, or an exception escaped `benchkit.cli.main`
- silent: the command succeeded (or recorded ``ok``) where it should not have
- unclear: it failed, but the message lacks what the case expects
- hang: it did not end within the case's time limit
- orphans: a process of the run was alive seconds after the driver ended
- lost: a record that should have stayed was changed or removed

It prints one table (markdown) and, with --verbose, one line per case. Runs take a few minutes on two cores; the
fault cases start real worker processes. The test plugins of ``tests/`` (``fixture_plugins``, ``fault_plugins``)
provide the tiny dataset and the misbehaving detectors.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
sys.path.insert(0, str(TESTS))
KINDS = ("named", "traceback", "silent", "unclear", "hang", "orphans", "lost")


@dataclass
class Outcome:
    kind: str
    detail: str = ""


@dataclass
class Result:
    code: int | None
    out: str = ""
    err: str = ""
    escaped: str = ""  # an exception that left main()

    @property
    def text(self) -> str:
        return self.out + self.err + self.escaped

    @property
    def traceback(self) -> bool:
        return bool(self.escaped) or "Traceback (most recent call last)" in self.out + self.err


@dataclass
class Case:
    name: str
    run: Callable[[Path], Outcome]


CASES: list[Case] = []


def case(name: str):
    def register(fn):
        CASES.append(Case(name, fn))
        return fn
    return register


# -- running the CLI -----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cli(*argv: str) -> Result:
    """benchkit's main() in this process, output captured; an exception leaving it is recorded, not raised."""
    from benchkit.cli import main
    from benchkit.plugins import set_registry

    set_registry(None)
    out, err = io.StringIO(), io.StringIO()
    escaped, code = "", None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001 - that is what is counted
            escaped = f"{type(exc).__name__}: {exc}"
    return Result(code, out.getvalue(), err.getvalue(), escaped)


def cli_process(*argv: str, timeout: float = 120, env: dict | None = None) -> tuple[Result, subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-m", "benchkit.cli", *map(str, argv)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Result(None), proc
    return Result(proc.returncode, out, err), proc


def judge(result: Result, *expect: str, ok: bool = False, code: int | None = None) -> Outcome:
    """``ok``: the right answer is success (with ``expect`` in the output, e.g. a warning); else failure."""
    if result.code is None:
        return Outcome("hang")
    if result.traceback:
        return Outcome("traceback", (result.escaped or result.err)[-300:])
    missing = [e for e in expect if e not in result.text]
    if ok:
        if result.code != 0:
            return Outcome("unclear", f"exit {result.code}: {result.err[-200:]}")
        return Outcome("unclear" if missing else "named", f"missing {missing}" if missing else "")
    if result.code == 0:
        return Outcome("silent", result.text[-200:])
    if code is not None and result.code != code:
        return Outcome("unclear", f"exit {result.code}, expected {code}")
    return Outcome("unclear", f"missing {missing} in {result.text[-300:]!r}") if missing else Outcome("named")


# -- records -------------------------------------------------------------------------------------------------------
def good_record() -> dict:
    from records_factory import make_record

    return make_record("det", "a", 0, {"a": {"i_auroc": 0.8, "p_auroc": 0.9}}).model_dump(mode="json")


def _edited(edit: Callable[[dict], None]) -> str:
    data = good_record()
    edit(data)
    return json.dumps(data)


def _set(path: str, value):
    def edit(data):
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        data[last] = value
    return edit


RECORD_CASES = {
    "nan metric": (json.dumps(good_record()).replace('"p_auroc": 0.9', '"p_auroc": NaN'), "not a JSON number"),
    "infinity metric": (json.dumps(good_record()).replace('"p_auroc": 0.9', '"p_auroc": Infinity'), "not a JSON"),
    "-infinity fit time": (json.dumps(good_record()).replace('"fit_seconds": 2.5', '"fit_seconds": -Infinity'),
                           "not a JSON"),
    "metric 7.5": (_edited(_set("metrics.a.p_auroc", 7.5)), "outside [0, 1]"),
    "metric -3": (_edited(_set("metrics.a.p_auroc", -3)), "outside [0, 1]"),
    "ok with error": (_edited(_set("error", {"type": "X", "message": "boom", "traceback": None})),
                      "status is ok but an error"),
    "ok without metrics": (_edited(lambda d: d.update(metrics={}, samples=[])), "no metrics"),
    "failed with metrics": (_edited(lambda d: d.update(status="failed", error={"type": "X", "message": "m"},
                                                       samples=[])), "metrics are recorded"),
    "skipped without reason": (_edited(lambda d: d.update(status="skipped", metrics={}, samples=[], error=None)),
                               "no reason"),
    "tampered config_hash": (_edited(_set("job.config_hash", "0" * 16)), "is not the hash of job.config"),
    "edited config": (_edited(_set("job.config.seed", 3)), "is not the hash"),
    "relabelled detector": (_edited(_set("job.detector", "btf-raw")), "job.detector"),
    "metric not from samples": (_edited(_set("metrics.a.i_auroc", 0.95)), "sample scores give"),
    "counts not from samples": (_edited(_set("counts.a.test_normal", 3)), "but the samples hold"),
    "one-class null metrics": (_edited(lambda d: d.update(
        metrics={"a": {"i_auroc": None}}, samples=[s for s in d["samples"] if s["label"] == 0],
        counts={"a": {"train": 4, "test_normal": 10, "test_anomalous": 0}})), "every metric is null"),
    "unknown metric": (_edited(_set("metrics.a.accuracy", 0.5)), "not a benchkit metric"),
    "interval lo > hi": (_edited(_set("intervals", {"a": {"i_auroc": [0.9, 0.1]}})), "not an interval"),
    "negative fit time": (_edited(_set("efficiency.fit_seconds", -1.0)), "is negative"),
    "negative counts": (_edited(_set("counts.a.train", -4)), "is negative"),
    "deep nesting 100k": ("[" * 100_000 + "]" * 100_000, "nested 100000 levels"),
    "deep nesting in config": (_edited(_set("job.config.x", json.loads("[" * 70 + "]" * 70))), "levels deep"),
    "top-level list": ("[1, 2]", "not a result record"),
    "top-level string": ('"record"', "not a result record"),
    "top-level number": ("3", "not a result record"),
    "top-level null": ("null", "not a result record"),
    "empty file": ("", "not JSON"),
    "truncated JSON": (json.dumps(good_record())[:200], "not JSON"),
    "duplicate keys": ('{"schema_version": 2, "schema_version": 1, "job": {}}', "appears twice"),
    "schema_version 99": (_edited(_set("schema_version", 99)), "newer than this benchkit"),
    "schema_version text": (_edited(_set("schema_version", "2")), "schema_version"),
    "job is a list": (_edited(_set("job", [])), "job"),
    "status unknown": (_edited(_set("status", "great")), "status"),
    "extra field": (_edited(_set("hacked", True)), "hacked"),
    "sample label 2": (_edited(_set("samples.0.label", 2)), "labels are 0 or 1"),
    "duplicate sample ids": (_edited(_set("samples.1.id", "an0")), "lists a sample id twice"),
    "interval of an unreported metric": (_edited(_set("intervals", {"a": {"aupro@0.3": [0.1, 0.2]}})),
                                         "does not report"),
    "metrics of a category without counts": (_edited(_set("metrics.zz", {"i_auroc": 0.5})), "has metrics but no"),
}


def _record_case(text: str, expect: str):
    def run(tmp: Path) -> Outcome:
        path = tmp / "record.json"
        path.write_text(text)
        return judge(cli("validate", path), str(path), expect, code=1)
    return run


for _name, (_text, _expect) in RECORD_CASES.items():
    CASES.append(Case(f"validate: {_name}", _record_case(_text, _expect)))


@case("validate: not UTF-8")
def _(tmp):
    (tmp / "r.json").write_bytes(b'{"a": "caf\xe9"}')
    return judge(cli("validate", tmp / "r.json"), "not UTF-8", code=1)


@case("validate: missing file")
def _(tmp):
    return judge(cli("validate", tmp / "nope.json"), "nope.json", "cannot read the file", code=1)


@case("validate: folder without JSON")
def _(tmp):
    return judge(cli("validate", tmp), "no *.json files", code=2)


@case("validate: a bad file first does not stop the others")
def _(tmp):
    from records_factory import make_record
    from benchkit.results import write_record

    (tmp / "a.json").write_text("[" * 100_000)
    write_record(make_record("det", "a", 0), tmp / "b.json")
    result = cli("validate", tmp / "a.json", tmp / "b.json")
    return judge(result, "b.json: ok", "nested", code=1)


# -- results folders and the site ----------------------------------------------------------------------------------
def _results_with(tmp: Path, name: str, text: str) -> Path:
    from records_factory import make_record
    from benchkit.results import write_record

    results = tmp / "results"
    write_record(make_record("det", "a", 0), results / "toy" / "ok.json")
    (results / "toy" / name).write_text(text)
    return results


@case("leaderboard: stray non-record JSON")
def _(tmp):
    results = _results_with(tmp, "notes.json", '{"todo": 1}')
    return judge(cli("leaderboard", "build", "--results", results), "not a result record; skipped", ok=True)


@case("leaderboard: deeply nested JSON")
def _(tmp):
    results = _results_with(tmp, "deep.json", "{" * 50_000)
    return judge(cli("leaderboard", "build", "--results", results), "invalid record left out", ok=True)


@case("leaderboard: tampered record")
def _(tmp):
    results = _results_with(tmp, "bad.json", RECORD_CASES["metric 7.5"][0])
    return judge(cli("leaderboard", "build", "--results", results), "bad.json: invalid record left out", ok=True)


@case("leaderboard: --out is a file")
def _(tmp):
    results = _results_with(tmp, "x.txt", "")
    (tmp / "out.html").write_text("")
    return judge(cli("leaderboard", "build", "--results", results, "--out", tmp / "out.html"), "is a file", code=2)


@case("leaderboard: --results is a file")
def _(tmp):
    (tmp / "r").write_text("")
    return judge(cli("leaderboard", "build", "--results", tmp / "r"), "is a file", code=2)


@case("leaderboard: --results missing")
def _(tmp):
    return judge(cli("leaderboard", "build", "--results", tmp / "none"), "no such folder", code=2)


@case("show: --results is a file")
def _(tmp):
    (tmp / "r").write_text("")
    return judge(cli("show", "--results", tmp / "r"), "is a file", code=2)


@case("compare: --results missing")
def _(tmp):
    return judge(cli("compare", "a", "b", "--dataset", "d", "--setting", "s", "--results", tmp / "none"),
                 "no such folder", code=2)


@case("show: ANSI escapes in a record's detector name")
def _(tmp):
    from records_factory import make_record
    from benchkit.results import write_record

    write_record(make_record("evil\x1b[2J\x1b]0;pwned\x07", "a", 0), tmp / "res" / "toy" / "a.json")
    result = cli("show", "--results", tmp / "res")
    if "\x1b" in result.text or "\x07" in result.text:
        return Outcome("silent", "control characters reached the terminal")
    return judge(result, "evil\\x1b[2J", ok=True)


# -- dataset copies -------------------------------------------------------------------------------------------------
def _mvtec(tmp: Path) -> Path:
    from benchkit_datasets.testing import make_mvtec3d

    return make_mvtec3d(tmp / "mvtec3d")


def _real3d(tmp: Path) -> Path:
    from benchkit_datasets.testing import make_real3d

    return make_real3d(tmp / "real3d-ad")


def verify(name: str, root: Path, *expect: str) -> Outcome:
    return judge(cli("datasets", "verify", name, "--root", root), *expect, code=1)


def _cut_pcd(path: Path, keep: int, tail: str = "") -> None:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DATA")) + 1
    path.write_text("\n".join(lines[:start + keep]) + "\n" + tail)


@case("verify: truncated ASCII PCD (header 120 points, 50 rows)")
def _(tmp):
    root = _real3d(tmp)
    path = root / "airplane" / "train" / "1_template.pcd"
    _cut_pcd(path, 50)
    return verify("real3d-ad", root, f"{path}: header declares 120 points but the file holds only 50")


@case("verify: PCD cut mid-row")
def _(tmp):
    root = _real3d(tmp)
    path = root / "airplane" / "test" / "1_good.pcd"
    _cut_pcd(path, 89, "0.1 0.2")
    return verify("real3d-ad", root, str(path), "last data row has 2 values")


@case("verify: PCD with more rows than its header")
def _(tmp):
    root = _real3d(tmp)
    path = root / "airplane" / "test" / "1_good.pcd"
    path.write_text(path.read_text().replace("POINTS 90", "POINTS 80").replace("WIDTH 90", "WIDTH 80"))
    return verify("real3d-ad", root, str(path), "declares 80 points but the file holds 90")


@case("verify: truncated binary PCD")
def _(tmp):
    import numpy as np
    import open3d as o3d

    root = _real3d(tmp)
    path = root / "airplane" / "test" / "1_good.pcd"
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.random.default_rng(0).random((90, 3))))
    o3d.io.write_point_cloud(str(path), cloud, write_ascii=False)
    path.write_bytes(path.read_bytes()[:-100])
    return verify("real3d-ad", root, str(path), "declares 90 points but the file holds only")


@case("verify: PCD with a garbage header")
def _(tmp):
    root = _real3d(tmp)
    path = root / "airplane" / "test" / "1_good.pcd"
    path.write_text("hello\nworld\n")
    return verify("real3d-ad", root, str(path), "not a valid PCD file")


def _tiff_case(dtype: str, shape=(12, 16, 3)):
    def run(tmp):
        import numpy as np
        import tifffile

        root = _mvtec(tmp)
        path = root / "bagel" / "test" / "crack" / "xyz" / "000.tiff"
        tifffile.imwrite(path, np.ones(shape, dtype=dtype), photometric="rgb" if len(shape) == 3 else None)
        return verify("mvtec3d", root, str(path), "expected float" if len(shape) == 3 else "H x W x 3")
    return run


for _dtype in ("uint8", "uint16", "int32", "complex64"):
    CASES.append(Case(f"verify: {_dtype} xyz TIFF", _tiff_case(_dtype)))
CASES.append(Case("verify: 2-D xyz TIFF", _tiff_case("float32", (12, 16))))


@case("verify: NaN in an xyz TIFF")
def _(tmp):
    import numpy as np
    import tifffile

    root = _mvtec(tmp)
    path = root / "bagel" / "test" / "crack" / "xyz" / "000.tiff"
    xyz = tifffile.imread(path)
    xyz[0, 0] = np.nan
    tifffile.imwrite(path, xyz, photometric="rgb")
    return verify("mvtec3d", root, str(path), "NaN or infinite")


@case("verify: corrupt PNG")
def _(tmp):
    root = _mvtec(tmp)
    path = root / "bagel" / "test" / "crack" / "rgb" / "000.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return verify("mvtec3d", root, str(path), "cannot read image")


@case("verify: missing mask of a defect sample")
def _(tmp):
    root = _mvtec(tmp)
    path = root / "bagel" / "test" / "crack" / "gt" / "000.png"
    path.unlink()
    return verify("mvtec3d", root, f"{path}: file not found")


@case("verify: empty test split")
def _(tmp):
    root = _mvtec(tmp)
    for f in (root / "bagel" / "test").rglob("*.tiff"):
        f.unlink()
    return verify("mvtec3d", root, f"{root / 'bagel' / 'test'}: no test samples")


@case("verify: missing test folder")
def _(tmp):
    root = _real3d(tmp)
    shutil.rmtree(root / "shell" / "test")
    return verify("real3d-ad", root, f"{root / 'shell' / 'test'}: test folder missing")


@case("verify: folder that is not a category")
def _(tmp):
    root = _mvtec(tmp)
    (root / "bagel_backup" / "train").mkdir(parents=True)
    return verify("mvtec3d", root, f"{root / 'bagel_backup'}: folder is not a category")


for _old, _new in (("000.tiff", "000.TIFF"), ("000.tiff", "000.tif")):
    def _ext_case(old=_old, new=_new):
        def run(tmp):
            root = _mvtec(tmp)
            xyz = root / "bagel" / "test" / "crack" / "xyz"
            (xyz / old).rename(xyz / new)
            return verify("mvtec3d", root, f"{xyz / new}: unexpected file name")
        return run
    CASES.append(Case(f"verify: xyz file named {_new}", _ext_case()))


@case("verify: .ply file among test clouds")
def _(tmp):
    root = _real3d(tmp)
    (root / "airplane" / "test" / "9_bulge.ply").write_text("ply\n")
    return verify("real3d-ad", root, f"{root / 'airplane' / 'test' / '9_bulge.ply'}: unexpected file name")


@case("verify: comma-separated Real3D-AD ground truth")
def _(tmp):
    root = _real3d(tmp)
    path = root / "airplane" / "gt" / "3_bulge.txt"
    path.write_text(path.read_text().replace(" ", ","))
    return verify("real3d-ad", root, str(path), "comma-separated")


@case("verify: file name with ANSI escapes")
def _(tmp):
    root = _real3d(tmp)
    (root / "airplane" / "test" / "x\x1b[31mred.ply").write_text("")
    result = cli("datasets", "verify", "real3d-ad", "--root", root)
    if "\x1b" in result.text:
        return Outcome("silent", "control characters reached the terminal")
    return judge(result, "x\\x1b[31mred.ply", code=1)


# -- run arguments ----------------------------------------------------------------------------------------------------
def run_cli(tmp: Path, *extra: str) -> Result:
    return cli("run", "--results", tmp / "results", "--no-site", "--quiet", *extra)


RUN_ARG_CASES = {
    "--threads -2": (["--detector", "nn-distance", "--dataset", "tiny-points", "--threads", "-2"], "--threads -2"),
    "--threads 0": (["--detector", "nn-distance", "--dataset", "tiny-points", "--threads", "0"], "--threads 0"),
    "--workers 0": (["--detector", "nn-distance", "--dataset", "tiny-points", "--workers", "0"], "--workers"),
    "--timeout 0": (["--detector", "nn-distance", "--dataset", "tiny-points", "--timeout", "0"], "--timeout"),
    "--timeout -1": (["--detector", "nn-distance", "--dataset", "tiny-points", "--timeout", "-1"], "--timeout"),
    "--timeout abc": (["--detector", "nn-distance", "--dataset", "tiny-points", "--timeout", "abc"], "--timeout"),
    "--timeout inf": (["--detector", "nn-distance", "--dataset", "tiny-points", "--timeout", "inf"], "--timeout"),
    "--max-memory 0": (["--detector", "nn-distance", "--dataset", "tiny-points", "--max-memory", "0"],
                       "--max-memory"),
    "--data-root missing": (["--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", "/nonexistent"],
                            "--data-root /nonexistent: no such folder"),
    "--dataset-option misspelled dataset": (["--detector", "nn-distance", "--dataset", "tiny-points",
                                             "--dataset-option", "tiny-pionts.only=[\"ball\"]"], "tiny-pionts"),
    "--dataset-option bad format": (["--detector", "nn-distance", "--dataset", "tiny-points", "--dataset-option",
                                     "only"], "DATASET.KEY=VALUE"),
    "--dataset-option unknown key": (["--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", "{tmp}",
                                      "--dataset-option", "real3d-ad.voxel=3"], "voxel"),
    "unknown detector": (["--detector", "nope", "--dataset", "tiny-points"], "nope"),
    "unknown dataset": (["--detector", "nn-distance", "--dataset", "nope"], "nope"),
    "unknown setting": (["--detector", "nn-distance", "--dataset", "tiny-points", "--setting", "nope"], "nope"),
    "few-shot without K": (["--detector", "nn-distance", "--dataset", "tiny-points", "--setting", "few-shot:x"],
                           "few-shot"),
    "--seed and --seeds": (["--detector", "nn-distance", "--dataset", "tiny-points", "--seed", "1", "--seeds", "1,2"],
                           "--seed or --seeds"),
    "--seeds a,b": (["--detector", "nn-distance", "--dataset", "tiny-points", "--seeds", "a,b"], "--seeds"),
    "--category unknown": (["--detector", "nn-distance", "--dataset", "tiny-points", "--category", "nope"], "nope"),
    "--param unknown": (["--detector", "nn-distance", "--dataset", "tiny-points", "--param", "zzz=1"], "zzz"),
    "--seed -1": (["--detector", "nn-distance", "--dataset", "tiny-points", "--seed", "-1"], "--seed -1"),
    "--seeds 0,-1 (few-shot)": (["--detector", "nn-distance", "--dataset", "tiny-points", "--setting", "few-shot:2",
                                 "--seeds", "0,-1"], "--seeds"),
    "--dataset-option voxel_size=-1": (["--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", "{tmp}",
                                        "--dataset-option", "real3d-ad.voxel_size=-1"], "voxel_size"),
    "--dataset-option center=maybe": (["--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", "{tmp}",
                                       "--dataset-option", "real3d-ad.center=maybe"], "center"),
    "no detector": (["--dataset", "tiny-points"], "--detector"),
    "--config missing": (["--config", "/nonexistent.toml"], "/nonexistent.toml"),
}


def _run_arg_case(argv: list[str], expect: str):
    def run(tmp):
        (tmp / "real3d-ad").mkdir()
        return judge(run_cli(tmp, *[a.replace("{tmp}", str(tmp)) for a in argv]), expect, code=2)
    return run


for _name, (_argv, _expect) in RUN_ARG_CASES.items():
    CASES.append(Case(f"run: {_name}", _run_arg_case(_argv, _expect)))


@case("run: --results is a file")
def _(tmp):
    (tmp / "results").write_text("")
    return judge(run_cli(tmp, "--detector", "nn-distance", "--dataset", "tiny-points"), "is a file", code=2)


@case("run: --data-root without the dataset")
def _(tmp):
    return judge(cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp, "--results",
                     tmp / "res", "--no-site"), "no copy at", code=2)


@case("run: bad --config TOML")
def _(tmp):
    (tmp / "c.toml").write_text("detector = [")
    return judge(run_cli(tmp, "--config", tmp / "c.toml"), "not valid TOML", code=2)


# -- run faults -------------------------------------------------------------------------------------------------------
def records(results: Path) -> dict:
    from benchkit.results import iter_records

    return {(r.job.detector, r.job.setting, r.job.category, r.job.seed): r for _, r in iter_records(results)}


def fault_log(tmp: Path) -> list[dict]:
    path = tmp / "faults.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _record_outcome(result: Result, rec, kind: str, expect: str) -> Outcome:
    if result.code is None:
        return Outcome("hang")
    if result.traceback:
        return Outcome("traceback", result.err[-300:])
    if rec is None:
        return Outcome("lost", "no record")
    if rec.status == "ok":
        return Outcome("silent", "recorded ok")
    if rec.error.type != kind or expect not in rec.error.message:
        return Outcome("unclear", f"{rec.error.type}: {rec.error.message[:200]}")
    return Outcome("named")


@case("run: a hanging detector with --timeout 6")
def _(tmp):
    result = run_cli(tmp, "--detector", "hang", "--detector", "nn-distance", "--dataset", "tiny-points",
                     "--category", "ball", "--workers", "1", "--timeout", "6")
    recs = records(tmp / "results")
    after = recs.get(("nn-distance", "one-model-one-class", "ball", 0))
    if after is None or after.status != "ok":
        return Outcome("hang", "the job queued behind the hang did not run")
    return _record_outcome(result, recs.get(("hang", "one-model-one-class", "ball", 0)), "JobTimeout", "--timeout")


@case("run: a detector over --max-memory")
def _(tmp):
    with environment(BENCHKIT_FAULT_MB="400"):
        result = run_cli(tmp, "--detector", "hog", "--dataset", "tiny-points", "--category", "ball",
                         "--max-memory", "200")
    return _record_outcome(result, records(tmp / "results").get(("hog", "one-model-one-class", "ball", 0)),
                           "MemoryLimit", "--max-memory")


for _executor in ("local", "inline"):
    def _exit_case(executor=_executor):
        def run(tmp):
            result = run_cli(tmp, "--detector", "exits", "--dataset", "tiny-points", "--category", "ball",
                             "--executor", executor)
            return _record_outcome(result, records(tmp / "results").get(("exits", "one-model-one-class", "ball", 0)),
                                   "SystemExit", "sys.exit(0)")
        return run
    CASES.append(Case(f"run: sys.exit(0) in fit ({_executor} executor)", _exit_case()))


@case("run: a worker that dies (os._exit)")
def _(tmp):
    with environment(BENCHKIT_TEST_CRASH="1", BENCHKIT_TEST_FAIL_ON="ball"):
        result = run_cli(tmp, "--detector", "raising", "--dataset", "tiny-points", "--category", "ball")
    return _record_outcome(result, records(tmp / "results").get(("raising", "one-model-one-class", "ball", 0)),
                           "WorkerCrash", "exited with code 7")


@case("run: a detector that raises")
def _(tmp):
    with environment(BENCHKIT_TEST_FAIL_ON="ball"):
        result = run_cli(tmp, "--detector", "raising", "--dataset", "tiny-points", "--category", "ball")
    return _record_outcome(result, records(tmp / "results").get(("raising", "one-model-one-class", "ball", 0)),
                           "RuntimeError", "deliberate failure")


def _session(pid: int) -> list[int]:
    import psutil

    out = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != pid and os.getsid(proc.pid) == pid and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return out


def _signal_case(sig: signal.Signals, group: bool = False):
    def run(tmp):
        cmd = [sys.executable, "-m", "benchkit.cli", "run", "--detector", "hang", "--dataset", "tiny-points",
               "--workers", "2", "--results", tmp / "results", "--no-site", "--quiet"]
        driver = subprocess.Popen(list(map(str, cmd)), env={**os.environ, "BENCHKIT_FAULT_CHILD": "1"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and sum(e["event"] == "fit" for e in fault_log(tmp)) < 2:
                time.sleep(0.1)
            if sum(e["event"] == "fit" for e in fault_log(tmp)) < 2:
                return Outcome("hang", "the jobs never started")
            (os.killpg if group else os.kill)(driver.pid, sig)
            try:
                err = driver.communicate(timeout=30)[1]
            except subprocess.TimeoutExpired:
                return Outcome("hang", "the driver did not stop")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _session(driver.pid):
                time.sleep(0.2)
            left = _session(driver.pid)
            if left:
                return Outcome("orphans", f"{len(left)} processes left")
            if "Traceback" in err:
                return Outcome("traceback", err[-300:])
            return Outcome("named")
        finally:
            for pid in _session(driver.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if driver.poll() is None:
                driver.kill()
    return run


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL):
    CASES.append(Case(f"run: {_sig.name} to the driver mid-run", _signal_case(_sig)))
CASES.append(Case("run: Ctrl-C (SIGINT to the whole process group)", _signal_case(signal.SIGINT, group=True)))


@case("run: two runs into one results folder")
def _(tmp):
    procs = [subprocess.Popen([sys.executable, "-m", "benchkit.cli", "run", "--detector", "counted", "--dataset",
                               "tiny-points", "--workers", "1", "--results", str(tmp / "results"), "--no-site",
                               "--quiet"], env={**os.environ, "BENCHKIT_TEST_SLEEP": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    if any("Traceback" in e for e in errs):
        return Outcome("traceback", errs[0][-300:])
    fitted = sorted(c for e in fault_log(tmp) if e["event"] == "fit" for c in e["categories"])
    if fitted != ["ball", "egg", "pill"]:
        return Outcome("silent", f"fits: {fitted}")
    return Outcome("named")


@case("run: --seeds 0,0,0 and a repeated --detector")
def _(tmp):
    result = run_cli(tmp, "--detector", "counted", "--detector", "counted", "--dataset", "tiny-points",
                     "--seeds", "0,0,0", "--category", "egg")
    fits = [e for e in fault_log(tmp) if e["event"] == "fit"]
    if len(fits) != 1:
        return Outcome("silent", f"{len(fits)} fits")
    return judge(result, "1 jobs", ok=True)


@case("run: one category without test clouds (per-category)")
def _(tmp):
    root = _real3d(tmp / "data")
    for f in (root / "shell" / "test").glob("*.pcd"):
        f.unlink()
    result = cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp / "data",
                 "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    recs = records(tmp / "results")
    if recs.get(("nn-distance", "one-model-one-class", "airplane", 0)) is None or \
            recs[("nn-distance", "one-model-one-class", "airplane", 0)].status != "ok":
        return Outcome("lost", "the healthy category did not run")
    return _record_outcome(result, recs.get(("nn-distance", "one-model-one-class", "shell", 0)), "DataError",
                           str(root / "shell" / "test"))


@case("run: unified job over a broken category")
def _(tmp):
    root = _real3d(tmp / "data")
    (root / "shell" / "gt" / "3_bulge.txt").unlink()
    result = cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp / "data",
                 "--setting", "unified", "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    return _record_outcome(result, records(tmp / "results").get(("nn-distance", "unified", "all", 0)),
                           "DataError", "3_bulge.txt")


@case("run: a test split with only good clouds")
def _(tmp):
    root = _real3d(tmp / "data")
    for f in (root / "shell" / "test").glob("*.pcd"):
        if "good" not in f.name:
            f.unlink()
    result = cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp / "data",
                 "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    return _record_outcome(result, records(tmp / "results").get(("nn-distance", "one-model-one-class", "shell", 0)),
                           "DataError", "no anomalous samples")


@case("run: a truncated PCD in one category")
def _(tmp):
    root = _real3d(tmp / "data")
    _cut_pcd(root / "shell" / "test" / "1_good.pcd", 40)
    result = cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp / "data",
                 "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    recs = records(tmp / "results")
    if recs.get(("nn-distance", "one-model-one-class", "airplane", 0), None) is None:
        return Outcome("lost", "the healthy category did not run")
    return _record_outcome(result, recs.get(("nn-distance", "one-model-one-class", "shell", 0)), "DataError",
                           "1_good.pcd")


@case("run: a missing mask of one defect sample")
def _(tmp):
    from benchkit_datasets.testing import make_mvtec3d

    root = make_mvtec3d(tmp / "data" / "mvtec3d")
    mask = root / "bagel" / "test" / "crack" / "gt" / "000.png"
    mask.unlink()
    result = cli("run", "--detector", "nn-distance", "--dataset", "mvtec3d", "--data-root", tmp / "data",
                 "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    recs = records(tmp / "results")
    foam = recs.get(("nn-distance", "one-model-one-class", "foam", 0))
    if foam is None or foam.status != "ok":
        return Outcome("lost", "the healthy category did not run")
    return _record_outcome(result, recs.get(("nn-distance", "one-model-one-class", "bagel", 0)), "DataError",
                           str(mask))


@case("run: a folder that is not a category")
def _(tmp):
    root = _real3d(tmp / "data")
    shutil.copytree(root / "shell", root / "shell_old")
    result = cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp / "data",
                 "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    if any(r.job.category == "shell_old" for r in records(tmp / "results").values()):
        return Outcome("silent", "the folder ran as a category")
    return judge(result, f"{root / 'shell_old'}: folder is not a category of real3d-ad", "not run", ok=True)


@case("run: files the reader does not read (.PCD, .ply)")
def _(tmp):
    root = _real3d(tmp / "data")
    (root / "shell" / "test" / "1_good.pcd").rename(root / "shell" / "test" / "1_good.PCD")
    (root / "shell" / "test" / "7_bulge.ply").write_text("ply\n")
    result = cli("run", "--detector", "nn-distance", "--dataset", "real3d-ad", "--data-root", tmp / "data",
                 "--results", tmp / "results", "--no-site", "--quiet", "--executor", "inline")
    return judge(result, "1_good.PCD: unexpected file name", "7_bulge.ply: unexpected file name", ok=True)


@case("run: stray JSON under --results, site built")
def _(tmp):
    (tmp / "results").mkdir()
    (tmp / "results" / "notes.json").write_text("[1]")
    result = cli("run", "--detector", "nn-distance", "--dataset", "tiny-points", "--category", "ball",
                 "--results", tmp / "results", "--quiet", "--executor", "inline")
    return judge(result, "not a result record; skipped", "leaderboard at", ok=True)


@case("run: a tampered record is not trusted on resume")
def _(tmp):
    args = ("--detector", "nn-distance", "--dataset", "tiny-points", "--category", "ball", "--executor", "inline")
    run_cli(tmp, *args)
    (path,) = [p for p in (tmp / "results").rglob("*.json")]
    data = json.loads(path.read_text())
    data["metrics"]["ball"]["i_auroc"] = 0.01
    path.write_text(json.dumps(data))
    result = run_cli(tmp, *args)
    if json.loads(path.read_text())["metrics"]["ball"]["i_auroc"] == 0.01:
        return Outcome("silent", "the tampered record was kept as done")
    return judge(result, "1 ok", ok=True)


# -- evaluate ---------------------------------------------------------------------------------------------------------
def _maps(tmp: Path) -> tuple[Path, Path]:
    import numpy as np

    from benchkit.evaluate import map_path
    from benchkit.plugins import get_registry

    root = _real3d(tmp)
    reader = get_registry().get("datasets", "real3d-ad").open(root)
    maps = tmp / "maps"
    for cat in reader.categories():
        for ref in reader.index(cat, "test"):
            sample = reader.load(ref)
            path = map_path(maps, ref, organized=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savetxt(path, sample.gt.astype(float) + 0.1)
    return root, maps


def evaluate(tmp: Path, root: Path, maps: Path, *extra: str) -> Result:
    return cli("evaluate", "--dataset", "real3d-ad", "--root", root, "--maps", maps, "--results", tmp / "results",
               *extra)


for _name in ("..", "../../etc", "a/b", ".hidden", "x y", "x\x1b[31m"):
    def _name_case(name=_name):
        def run(tmp):
            root, maps = _maps(tmp)
            result = evaluate(tmp, root, maps, "--name", name)
            if any(p.is_file() for p in tmp.rglob("*.json") if "results" not in p.parts):
                return Outcome("lost", "a record was written outside --results")
            return judge(result, "plain identifier", code=2)
        return run
    CASES.append(Case(f"evaluate: --name {_name!r}", _name_case()))


@case("evaluate: --name of a registered detector")
def _(tmp):
    root, maps = _maps(tmp)
    return judge(evaluate(tmp, root, maps, "--name", "nn-distance"), "registered detector", code=2)


@case("evaluate: --setting not registered")
def _(tmp):
    root, maps = _maps(tmp)
    return judge(evaluate(tmp, root, maps, "--name", "ext", "--setting", "../../x"), "--setting ../../x", code=2)


@case("evaluate: a run record in the way is kept")
def _(tmp):
    from records_factory import make_record

    from benchkit.evaluate import external_record_path
    from benchkit.results import write_record

    root, maps = _maps(tmp)
    path = external_record_path(tmp / "results", "real3d-ad", "one-model-one-class", "ext", "airplane", 0)
    write_record(make_record("ext", "airplane", 0, dataset="real3d-ad"), path)
    before = path.read_bytes()
    result = evaluate(tmp, root, maps, "--name", "ext")
    if path.read_bytes() != before:
        return Outcome("lost", "the record was replaced")
    return judge(result, "did not write is in the way", code=1)


@case("evaluate: external records do not replace run records")
def _(tmp):
    root, maps = _maps(tmp)
    result = evaluate(tmp, root, maps, "--name", "ext")
    paths = list((tmp / "results").rglob("*.json"))
    if result.code != 0 or not paths or any(p.relative_to(tmp / "results").parts[0] != "external" for p in paths):
        return Outcome("unclear", f"exit {result.code}, {paths}")
    return Outcome("named")


@case("evaluate: score file not UTF-8")
def _(tmp):
    root, maps = _maps(tmp)
    path = next(maps.rglob("*.txt"))
    path.write_bytes(b"\xff\xfe\x00garbage")
    return judge(evaluate(tmp, root, maps, "--name", "ext"), str(path), "not a text file", code=1)


@case("evaluate: NaN score")
def _(tmp):
    root, maps = _maps(tmp)
    path = next(maps.rglob("*.txt"))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["nan", *lines[1:]]) + "\n")
    return judge(evaluate(tmp, root, maps, "--name", "ext"), str(path), "NaN", code=1)


@case("evaluate: missing map")
def _(tmp):
    root, maps = _maps(tmp)
    path = next(maps.rglob("*.txt"))
    path.unlink()
    return judge(evaluate(tmp, root, maps, "--name", "ext"), str(path), "anomaly map missing", code=1)


@case("evaluate: wrong number of scores")
def _(tmp):
    root, maps = _maps(tmp)
    path = next(maps.rglob("*.txt"))
    path.write_text("0.5\n0.5\n")
    return judge(evaluate(tmp, root, maps, "--name", "ext"), str(path), "scores but the test cloud has", code=1)


@case("evaluate: --results is a file")
def _(tmp):
    root, maps = _maps(tmp)
    (tmp / "results").write_text("")
    return judge(evaluate(tmp, root, maps, "--name", "ext"), "is a file", code=2)


# -- main ------------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    parser.add_argument("--only", default="", help="run only the cases whose name starts with this")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="benchkit-bad-inputs-"))
    os.environ.update(BENCHKIT_CACHE=str(work / "cache"), BENCHKIT_PLUGINS="fixture_plugins,fault_plugins",
                      BENCHKIT_FAULT_LOG="", BENCHKIT_PRELOAD="benchkit.worker",
                      PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    counts = dict.fromkeys(KINDS, 0)
    tried = 0
    started = time.monotonic()
    for i, item in enumerate(c for c in CASES if c.name.startswith(args.only)):
        tmp = work / f"case{i:03d}"
        tmp.mkdir()
        os.environ["BENCHKIT_FAULT_LOG"] = str(tmp / "faults.jsonl")
        try:
            outcome = item.run(tmp)
        except Exception as exc:  # noqa: BLE001 - a case that breaks is a finding, not a crash of the script
            outcome = Outcome("traceback", f"case raised {type(exc).__name__}: {exc}")
        tried += 1
        counts[outcome.kind] += 1
        if args.verbose or outcome.kind != "named":
            detail = f" ({outcome.detail})" if outcome.detail else ""
            print(f"{outcome.kind:9} {item.name}{detail}".replace("\x1b", "\\x1b"), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{tried} bad inputs in {time.monotonic() - started:.0f} s\n")
    print("| tried | named errors | tracebacks | silent acceptances | unclear | hangs | orphans | data lost |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {tried} | " + " | ".join(str(counts[k]) for k in KINDS) + " |")
    return 0 if counts["named"] == tried else 1


if __name__ == "__main__":
    sys.exit(main())
