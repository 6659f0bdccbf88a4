"""The `benchkit` command line. Each subcommand imports what it needs when it runs, so `--help` stays fast.

Exit codes: 0 success (every job ok or skipped), 1 a job failed or a file is invalid, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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


def _results_dir(path: Path | None) -> Path:
    from benchkit.jobs import DEFAULT_RESULTS

    return path or DEFAULT_RESULTS


# -- commands ---------------------------------------------------------------------------------------------------------
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


def check_metrics_fit(metrics: tuple[str, ...] | None, dataset_specs) -> None:
    """AU-PRO needs organized maps: refuse it for a dataset of unorganized clouds, naming both."""
    from benchkit.errors import UsageError
    from benchkit.metrics import check_metric_names

    for spec in dataset_specs if metrics else ():
        organized = "xyz" in spec.modalities or "points" not in spec.modalities
        try:
            check_metric_names(metrics, organized=organized)
        except ValueError as exc:
            raise UsageError(f"--metrics for dataset {spec.name}: {exc}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from benchkit import provenance
    from benchkit.errors import UsageError
    from benchkit.plugins import get_registry
    from benchkit.driver import iter_variant_names, run_jobs
    from benchkit.planning import Planner

    registry = get_registry()
    config = load_run_config(args.config) if args.config else {}
    for key in ("detector", "dataset", "setting"):
        if config.get(key) and not getattr(args, key):
            setattr(args, key, [config[key]])
    params = {**config.get("params", {}), **parse_params(args.param)}
    dataset_options = parse_dataset_options(args.dataset_option)
    for name, values in config.get("dataset_options", {}).items():
        dataset_options[name] = {**values, **dataset_options.get(name, {})}
    if args.all:
        detectors = args.detector or list(iter_variant_names(registry))
        datasets = args.dataset or list(registry.datasets)
        settings = args.setting
    else:
        if not args.detector or not args.dataset:
            raise UsageError("benchkit run needs --all, or --detector NAME and --dataset NAME")
        detectors, datasets = args.detector, args.dataset
        settings = args.setting or ["one-model-one-class"]
    for name in detectors:
        registry.detector_variant(name)
    for name in datasets:
        registry.get("datasets", name)
    if not args.all:  # with --all, AU-PRO is recorded where maps are organized and left out elsewhere
        check_metrics_fit(args.metrics, [registry.get("datasets", name) for name in datasets])
    if args.seeds and args.seed is not None:
        raise UsageError("give --seed or --seeds, not both")
    seeds = args.seeds or [args.seed if args.seed is not None else 0]
    if seeds[0] < 0:
        raise UsageError(f"--seed {seeds[0]}: seeds are integers >= 0")
    if args.workers is None:
        args.workers = os.cpu_count() or 1
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.no_feature_cache:
        os.environ["BENCHKIT_FEATURE_CACHE"] = "off"  # job processes inherit it
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads {args.threads}: give at least 1 thread per job")
    if args.data_root is not None and not args.data_root.is_dir():
        raise UsageError(f"--data-root {args.data_root}: no such folder (it holds one subfolder per dataset, e.g. "
                         f"{args.data_root / 'mvtec3d'})")
    for name in dataset_options:
        if name not in registry.datasets:
            raise UsageError(f"--dataset-option {name}.KEY=VALUE: no dataset {name!r}; known: "
                             f"{', '.join(sorted(registry.datasets))}")
    executor = registry.get("executors", args.executor)
    results = _folder_arg(_results_dir(args.results), "--results", must_exist=False)
    planner = Planner(
        registry, results, data_root=args.data_root, allow_random_init=args.allow_random_init,
        dataset_options=dataset_options, detector_params=params,
        threads=args.threads or provenance.default_threads(args.workers), executor=args.executor,
        isolated=executor.isolates_jobs, device=args.device, metrics=args.metrics,
    )
    if settings is None:  # --all: every setting, cross-dataset ones paired over the datasets found
        found = list(planner.available_datasets(datasets))
        settings = [n for spec in registry.settings.values() for n in spec.run_names(found)]
    if not args.all and len(planner.available_datasets(datasets)) < len(set(datasets)):
        raise UsageError("; ".join(planner.notes))  # asked for by name: a dataset without a copy is an error
    jobs, skipped = planner.expand(detectors, datasets, settings, seeds, category=args.category)
    for note in planner.notes:
        print(f"benchkit: {note}", file=sys.stderr)
    print(f"benchkit: {len(jobs)} jobs, {sum(s.status == 'skipped' for s in skipped)} incompatible combinations "
          f"recorded as skipped; results in {results}", file=sys.stderr)
    summary = run_jobs(jobs, skipped, args.executor, args.workers, registry, progress=not args.quiet,
                       timeout=args.timeout, max_memory_mb=args.max_memory,
                       executor_options=parse_params(args.executor_option, flag="--executor-option"))
    for note in summary.notes:
        print(f"benchkit: {note}", file=sys.stderr)
    print(f"benchkit: {summary.ok} ok, {summary.failed} failed, {summary.skipped} skipped, "
          f"{summary.cached} already done" + (f", {summary.elsewhere} left to another run" if summary.elsewhere
                                              else ""), file=sys.stderr)
    for line in summary.failures:
        print(f"  failed: {line}", file=sys.stderr)
    if not args.no_site:
        site = _build_site(results, results / "site")
        if site:
            print(f"benchkit: leaderboard at {site}")
    return summary.exit_code


def _build_site(results: Path, out: Path) -> Path | None:
    from benchkit.leaderboard import build_site

    return build_site(results, out)


def cmd_list(args: argparse.Namespace) -> int:
    from benchkit.plugins import get_registry

    registry = get_registry()
    rows = []
    for name, spec in sorted(registry.specs[args.kind].items()):
        row = {"name": name, "version": spec.version, "description": spec.description,
               "plugin": registry.owner[(args.kind, name)]}
        if args.kind == "detectors":
            row.update(variants=spec.variant_names(), consumes=sorted(spec.consumes), needs_category=spec.needs_category,
                       trains=spec.trains, settings=sorted(spec.settings) if spec.settings is not None else "all")
        elif args.kind == "datasets":
            row.update(modalities=sorted(spec.modalities), embedded=spec.embedded)
        elif args.kind == "settings":
            row.update(runs_as=spec.run_names())
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max((len(n) for r in rows for n in r.get("variants", [r["name"]])), default=4)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['description']}")
            for v in r.get("variants", [])[1:]:
                print(f"{v:<{width}}  (variant)")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from benchkit.plugins import get_registry

    registry = get_registry()
    infos = [p.as_dict() for p in registry.plugins]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    for p in infos:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in p["registers"].items()) or "nothing"
        state = f"FAILED ({p['error']})" if p["error"] else what
        print(f"{p['name']} [{p['distribution'] or 'BENCHKIT_PLUGINS'} {p['version'] or ''}]".rstrip() + f": {state}")
    return 0


def _folder_arg(path: Path, flag: str, *, must_exist: bool = True) -> Path:
    """A folder given on the command line: an existing file there (or, with ``must_exist``, nothing) is a usage
    error naming the flag."""
    from benchkit.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: is a file; give a folder")
    if must_exist and not path.is_dir():
        raise UsageError(f"{flag} {path}: no such folder (run `benchkit run` first)")
    return path


def cmd_leaderboard(args: argparse.Namespace) -> int:
    results = _folder_arg(_results_dir(args.results), "--results")
    out = _folder_arg(args.out or results / "site", "--out", must_exist=False)
    site = _build_site(results, out)
    print(site)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from benchkit.results import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from benchkit.errors import UsageError
    from benchkit.validation import check_file, scan_results

    if args.submission and not args.strict:
        raise UsageError("--submission always checks strictly; drop --no-strict")
    checked = bad = 0
    for target in args.files:
        if args.submission:
            from benchkit.submission import check_submissions

            checks = check_submissions([target])
        else:
            checks = scan_results(target, strict=args.strict) if target.is_dir() else [check_file(target,
                                                                                                 strict=args.strict)]
        before = checked
        for check in checks:
            checked += 1
            if check.ok:
                print(f"{check.path}: ok")
                continue
            bad += 1
            if not check.is_record:
                print(f"{check.path}: {check.problems[0]}", file=sys.stderr)
                continue
            print(f"{check.path}: invalid result record:", file=sys.stderr)
            for problem in check.problems:
                print(f"  - {problem}", file=sys.stderr)
        if checked == before:
            raise UsageError(f"{target}: no *.json files in this folder")
    what = " (schema only)" if not args.strict else " for publication" if args.submission else ""
    print(f"{checked - bad} of {checked} file(s) valid{what}", file=sys.stderr)
    return 1 if bad else 0


def cmd_new(args: argparse.Namespace) -> int:
    from benchkit.scaffold import new_plugin

    root = new_plugin(args.kind, args.name, args.dir, url=args.url)
    print(root)
    print(f"benchkit: next: pip install -e '{root}[test]' && pytest {root}", file=sys.stderr)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from benchkit import dataset_tools

    return dataset_tools.cli(args)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from benchkit import evaluate

    return evaluate.cli(args, _folder_arg(_results_dir(args.results), "--results", must_exist=False))


def cmd_show(args: argparse.Namespace) -> int:
    from benchkit.leaderboard import show_text

    results = _folder_arg(_results_dir(args.results), "--results")
    print(show_text(results, dataset=args.dataset, setting=args.setting, metric=args.metric))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchkit.leaderboard import compare_text

    results = _folder_arg(_results_dir(args.results), "--results")
    print(compare_text(results, args.a, args.b, dataset=args.dataset, setting=args.setting,
                       metric=args.metric))
    return 0


COMMANDS = {
    "run": cmd_run, "list": cmd_list, "plugins": cmd_plugins, "leaderboard": cmd_leaderboard,
    "schema": cmd_schema, "validate": cmd_validate, "new": cmd_new, "datasets": cmd_datasets,
    "evaluate": cmd_evaluate,
    "show": cmd_show, "compare": cmd_compare,
}


def _innermost(exc: BaseException) -> str:
    """``file:line`` where an exception was raised (the last frame of its traceback)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "unknown place"


def _plain_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(str(message), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _plain_warning  # one readable line per warning (a skipped plugin), not a source excerpt
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from benchkit import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return 2
    from benchkit.errors import BenchkitError, PluginError, UsageError
    from benchkit.terminal import escaped_output

    with escaped_output():  # record fields and file names may hold terminal control sequences
        try:
            return COMMANDS[args.command](args)
        except (UsageError, PluginError) as exc:
            print(f"benchkit {args.command}: {exc}", file=sys.stderr)
            return 2
        except BenchkitError as exc:
            print(f"benchkit {args.command}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("benchkit: interrupted; finished jobs are kept, run again to resume", file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into a command that stopped reading (`| head`): end quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())  # no second error at exit
            return 0
        except OSError as exc:  # a path the user gave cannot be read or written
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"benchkit {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # a bug (benchkit's or a plugin's): one line naming where, the trace on request
            if os.environ.get("BENCHKIT_DEBUG"):
                raise
            print(f"benchkit {args.command}: internal error at {_innermost(exc)}: {type(exc).__name__}: {exc} "
                  f"(a bug in benchkit or a plugin; set BENCHKIT_DEBUG=1 to see the traceback)", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
