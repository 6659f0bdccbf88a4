"""Exceptions a user can cause, each carrying a message that names the culprit and the fix.

The runner turns `SkipJob` into a record with status ``skipped`` and any other exception into status ``failed``;
`BenchkitError` messages are shown to the user as they are, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class BenchkitError(Exception):
    """An error whose message is complete enough to show to a user as is."""


class UsageError(BenchkitError):
    """A bad command-line argument or option; the CLI exits with code 2."""


class PluginError(BenchkitError):
    """A plugin could not be loaded or registered something invalid (e.g. a duplicate name)."""


class DataError(BenchkitError):
    """Bad or missing input data. Names the file, the problem and what to do about it."""

    def __init__(self, path: str | Path | None, problem: str, fix: str = "") -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}" + (f" ({fix})" if fix else ""))

    def __reduce__(self):  # picklable, so that one raised in the answer process reaches the driver as itself
        return type(self), (self.path, self.problem, self.fix)


class SkipJob(BenchkitError):
    """Raised inside a job when it cannot run here for a reason that is not a bug (missing weights, ...)."""


class MissingWeightsError(SkipJob):
    """Pretrained weights are not on disk; the message says which file to put where."""

    def __init__(self, what: str, path: Path, hint: str = "") -> None:
        self.path = Path(path)
        msg = (
            f"{what}: weights file {self.path} not found. Put the file there (set BENCHKIT_WEIGHTS to the folder "
            f"holding it)"
        )
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)
