"""`benchkit run`: the request on the command line (or in a --config file) checked, planned and run.

Every mistake a user can make in the request is refused here, before any job starts; the jobs themselves are
planned by `benchkit.planning` and run by `benchkit.driver`.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchkit.cli_parser import folder_arg, load_run_config, parse_dataset_options, parse_params, results_dir


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
    results = folder_arg(results_dir(args.results), "--results", must_exist=False)
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
        from benchkit.leaderboard import build_site

        site = build_site(results, results / "site", reuse=True)  # kept as it is when nothing it shows changed
        if site:
            print(f"benchkit: leaderboard at {site}")
    return summary.exit_code
