"""The `benchkit` command line: `main` parses the arguments, runs one subcommand and turns its errors into one line
and an exit code. The parser lives in `benchkit.cli_parser`, `run` in `benchkit.cli_run`, the other commands in
`benchkit.cli_commands`. Each subcommand imports what it needs when it runs, so `--help` stays fast.

Exit codes: 0 success (every job ok or skipped), 1 a job failed or a file is invalid, 2 a usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchkit.cli_commands import (
    cmd_compare, cmd_datasets, cmd_evaluate, cmd_leaderboard, cmd_list, cmd_new, cmd_plugins, cmd_schema, cmd_show,
    cmd_validate,
)
from benchkit.cli_parser import build_parser
from benchkit.cli_run import cmd_run

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
