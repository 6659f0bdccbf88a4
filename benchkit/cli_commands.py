"""The small `benchkit` commands: list, plugins, leaderboard, schema, validate, new, datasets, evaluate, show and
compare. Each imports what it needs when it runs."""

from __future__ import annotations

import argparse
import json
import sys

from benchkit.cli_parser import folder_arg, results_dir


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


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from benchkit.leaderboard import build_site

    results = folder_arg(results_dir(args.results), "--results")
    out = folder_arg(args.out or results / "site", "--out", must_exist=False)
    site = build_site(results, out)
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

    return evaluate.cli(args, folder_arg(results_dir(args.results), "--results", must_exist=False))


def cmd_show(args: argparse.Namespace) -> int:
    from benchkit.leaderboard import show_text

    results = folder_arg(results_dir(args.results), "--results")
    print(show_text(results, dataset=args.dataset, setting=args.setting, metric=args.metric))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchkit.leaderboard import compare_text

    results = folder_arg(results_dir(args.results), "--results")
    print(compare_text(results, args.a, args.b, dataset=args.dataset, setting=args.setting,
                       metric=args.metric))
    return 0
