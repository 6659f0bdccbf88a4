"""The `benchkit` argument parser and the parsing of its option values (seeds, KEY=VALUE lists, run configs).

Imports only the standard library at module level, so that `benchkit --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LIST_KINDS = ("detectors", "datasets", "settings", "backbones", "executors")


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = [-1]
    if any(seed < 0 for seed in seeds):
        raise argparse.ArgumentTypeError(f"--seeds takes comma-separated integers >= 0, e.g. 0,1,2 (got {text!r})")
    return seeds


def _positive(flag: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{flag} takes a positive number (got {text!r})")
        return value

    return parse


def _metric_list(text: str) -> tuple[str, ...]:
    """``--metrics``: names as in the records; AU-PRO with its limit and optional legacy threshold count."""
    from benchkit.metrics import check_metric_names

    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise argparse.ArgumentTypeError("give at least one metric, e.g. i_auroc,p_auroc")
    try:
        check_metric_names(names, organized=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def build_parser() -> argparse.ArgumentParser:
    from benchkit.executors import DEFAULT_TIMEOUT

    p = argparse.ArgumentParser(prog="benchkit", description="Benchmark 3D and RGB+3D industrial anomaly detectors.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run benchmark jobs and write one JSON record per job")
    run.add_argument("--all", action="store_true", help="every compatible detector x dataset x setting x seed")
    run.add_argument("--detector", action="append", help="detector name (repeatable), e.g. btf-fpfh or sedir:fpfh")
    run.add_argument("--dataset", action="append", help="dataset name (repeatable)")
    run.add_argument("--setting", action="append", help="setting name (repeatable), e.g. unified or few-shot:5")
    run.add_argument("--category", help="run one category only")
    run.add_argument("--metrics", type=_metric_list, metavar="LIST",
                     help="comma-separated metrics to record, e.g. i_auroc,p_auroc,aupro@0.3/legacy100 (default: all "
                          "of i_auroc i_aupr p_auroc p_aupr, and on organized data aupro@0.3 aupro@0.01 and their "
                          "/legacy100 variants)")
    run.add_argument("--seed", type=int, help="one seed (default 0)")
    run.add_argument("--seeds", type=_seeds, help="comma-separated seeds, e.g. 0,1,2,3,4")
    run.add_argument("--results", type=Path, default=None, help="results folder (default ./benchkit-results)")
    run.add_argument("--workers", type=int, default=None,
                     help="jobs run at the same time (default: one per CPU core, each with one thread)")
    run.add_argument("--executor", default="local", help="where jobs run (see `benchkit list executors`)")
    run.add_argument("--executor-option", action="append", default=[], metavar="KEY=VALUE",
                     help="option of the executor (repeatable), e.g. partition=gpu for --executor slurm")
    run.add_argument("--threads", type=int, help="threads per job (default: CPU cores / workers)")
    run.add_argument("--timeout", type=_positive("--timeout"), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                     help=f"wall time per job; a job past it is ended and recorded as failed, the run goes on "
                          f"(default {DEFAULT_TIMEOUT:g} s = {DEFAULT_TIMEOUT / 3600:g} h)")
    run.add_argument("--max-memory", type=_positive("--max-memory"), metavar="MB",
                     help="resident memory per job (the job's processes together); a job over it is ended and "
                          "recorded as failed (default: no limit)")
    run.add_argument("--data-root", type=Path, help="folder with one subfolder per real dataset ($BENCHKIT_DATA)")
    run.add_argument("--dataset-option", action="append", default=[], metavar="DATASET.KEY=VALUE",
                     help="reader option of one dataset, e.g. mvtec3d.remove_background=true (repeatable; VALUE "
                          "is read as JSON when it parses, else as text; see `benchkit datasets info NAME`)")
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="detector constructor parameter (repeatable; VALUE read as JSON when it parses, else text); "
                          "unknown names are refused, listing the valid ones")
    run.add_argument("--config", type=Path, metavar="FILE.toml",
                     help="TOML with `detector`, optional `dataset`/`setting`, a [params] table and "
                          "[dataset_options.NAME] tables; --detector/--param on the command line override it")
    run.add_argument("--device", default="cpu", help="device for torch detectors and backbones: cpu or cuda[:N]")
    run.add_argument("--allow-random-init", action="store_true",
                     help="let detectors whose pretrained weights are missing run randomly initialized (flagged)")
    run.add_argument("--no-feature-cache", action="store_true",
                     help="compute frozen backbone features in every job instead of reusing them from "
                          "$BENCHKIT_CACHE/features (same as BENCHKIT_FEATURE_CACHE=off)")
    run.add_argument("--no-site", action="store_true", help="do not rebuild the leaderboard site afterwards")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    lst = sub.add_parser("list", help="list registered plugins' contributions")
    lst.add_argument("kind", choices=LIST_KINDS)
    lst.add_argument("--json", action="store_true")

    plugins = sub.add_parser("plugins", help="installed plugins, their versions and what they register")
    plugins.add_argument("--json", action="store_true")

    lb = sub.add_parser("leaderboard", help="the static leaderboard site")
    lb_sub = lb.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = lb_sub.add_parser("build", help="render the site from result records")
    build.add_argument("--results", type=Path, default=None)
    build.add_argument("--out", type=Path, default=None, help="site folder (default RESULTS/site)")

    sub.add_parser("schema", help="print the JSON Schema of a result record")
    val = sub.add_parser("validate", help="validate result record files and name every problem")
    val.add_argument("files", nargs="+", type=Path, help="record files, or folders whose *.json files to check")
    val.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                     help="check content too: metrics finite and in [0, 1], status vs error and metrics, config hash, "
                          "metrics recomputed from the sample scores (default; --no-strict: the schema only)")
    val.add_argument("--submission", action="store_true",
                     help="check records for publication on the leaderboard too: plugin distribution and released "
                          "version named, weights digests, no random-init or external row passed off as pretrained")

    new = sub.add_parser("new", help="write a ready plugin package for a new detector or dataset")
    new.add_argument("kind", choices=("detector", "dataset"))
    new.add_argument("name", help="lower-case with hyphens, e.g. my-detector")
    new.add_argument("--dir", type=Path, default=Path("."), help="folder to create benchkit-NAME/ in (default .)")
    new.add_argument("--url", help="public source repository URL, written as [project.urls] Source")

    ds = sub.add_parser("datasets", help="inspect, verify and prepare datasets")
    ds_sub = ds.add_subparsers(dest="action", metavar="ACTION", required=True)
    ds_sub.add_parser("list", help="datasets and whether a copy was found")
    for name, text in (("info", "metadata of one dataset"), ("verify", "check a copy's layout and counts"),
                       ("prepare", "generate or preprocess a dataset into the cache")):
        a = ds_sub.add_parser(name, help=text)
        a.add_argument("name")
        if name != "info":
            a.add_argument("--root", type=Path, help="the dataset's folder (default DATA_ROOT/NAME)")
    for a in ds_sub.choices.values():
        a.add_argument("--data-root", type=Path, help="folder with one subfolder per real dataset ($BENCHKIT_DATA)")

    ev = sub.add_parser("evaluate", help="score anomaly maps produced outside benchkit")
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--root", type=Path, help="the dataset's folder (embedded datasets: their generated copy)")
    ev.add_argument("--maps", type=Path, required=True, help="folder of maps in the dataset's layout")
    ev.add_argument("--name", required=True, help="detector name to record")
    ev.add_argument("--setting", default="one-model-one-class")
    ev.add_argument("--metrics", type=_metric_list, metavar="LIST", help="comma-separated metrics (as for run)")
    ev.add_argument("--results", type=Path, default=None)

    show = sub.add_parser("show", help="print result tables (mean, std over seeds)")
    show.add_argument("--results", type=Path, default=None)
    show.add_argument("--dataset")
    show.add_argument("--setting")
    show.add_argument("--metric", help="show this metric per category")

    cmp_ = sub.add_parser("compare", help="paired test of two detectors over categories x seeds")
    cmp_.add_argument("a")
    cmp_.add_argument("b")
    cmp_.add_argument("--dataset", required=True)
    cmp_.add_argument("--setting", required=True)
    cmp_.add_argument("--metric", default="i_auroc")
    cmp_.add_argument("--results", type=Path, default=None)
    return p


def _json_or_text(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(items: list[str], flag: str = "--param") -> dict[str, object]:
    """``["epochs=3", "guidance=false"]`` -> ``{"epochs": 3, "guidance": False}``."""
    from benchkit.errors import UsageError

    params: dict[str, object] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"{flag} {item!r}: write KEY=VALUE, e.g. {flag} epochs=3")
        params[key.strip()] = _json_or_text(text)
    return params


def load_run_config(path: Path) -> dict[str, object]:
    """A run config file: detector, dataset, setting, [params], [dataset_options.NAME] (all optional)."""
    import tomllib

    from benchkit.errors import UsageError

    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: not valid TOML ({exc})") from None
    allowed = {"detector", "dataset", "setting", "params", "dataset_options", "description"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise UsageError(f"--config {path}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    for key in ("params", "dataset_options"):
        if not isinstance(data.get(key, {}), dict):
            raise UsageError(f"--config {path}: [{key}] must be a table")
    return data


def parse_dataset_options(items: list[str]) -> dict[str, dict[str, object]]:
    """``["mvtec3d.resize=224", ...]`` -> ``{"mvtec3d": {"resize": 224}}``."""
    from benchkit.errors import UsageError

    options: dict[str, dict[str, object]] = {}
    for item in items:
        target, eq, text = item.partition("=")
        dataset, dot, key = target.partition(".")
        if not eq or not dot or not dataset or not key:
            raise UsageError(f"--dataset-option {item!r}: write DATASET.KEY=VALUE, e.g. mvtec3d.remove_background=true")
        options.setdefault(dataset, {})[key] = _json_or_text(text)
    return options


def results_dir(path: Path | None) -> Path:
    from benchkit.jobs import DEFAULT_RESULTS

    return path or DEFAULT_RESULTS


def folder_arg(path: Path, flag: str, *, must_exist: bool = True) -> Path:
    """A folder given on the command line: an existing file there (or, with ``must_exist``, nothing) is a usage
    error naming the flag."""
    from benchkit.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: is a file; give a folder")
    if must_exist and not path.is_dir():
        raise UsageError(f"{flag} {path}: no such folder (run `benchkit run` first)")
    return path
