"""Checks a record must pass to be published on the leaderboard (``benchkit validate --submission``).

On top of the strict checks of `benchkit.validation` (finite metrics in [0, 1], status vs content, config hash,
metrics recomputed from the sample scores), a published record must be traceable to public code and honest about
its weights, as MTEB asks of results pull requests:

- the detector's plugin distribution, its version and its public source are named (``provenance.detector_plugin``,
  which ``benchkit run`` fills from the installed package's metadata), the version is a release (PEP 440, no
  ``.dev`` and no local ``+...`` part) and the source an http(s) URL, so that anyone can get exactly that code;
- the record was not produced from a benchkit checkout with uncommitted changes;
- pretrained weights carry their digest: every backbone recorded as pretrained names its file and SHA-256, and a
  record that says ``pretrained`` built at least one such backbone and no randomly initialised one;
- maps scored by ``benchkit evaluate`` (detector version ``external``) are not leaderboard rows: their code is not
  in a plugin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from benchkit.provenance import web_url
from benchkit.validation import FileCheck, Problem, check_file, scan_results

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _release(version: str) -> str | None:
    """Why ``version`` is not a pinned public release, or None when it is one."""
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        return f"{version!r} is not a PEP 440 version"
    if v.local is not None:
        return f"{version!r} has a local part (+{v.local}): not a published release"
    if v.is_devrelease:
        return f"{version!r} is a development release"
    return None


def publication_problems(record) -> list[Problem]:
    """What stops a schema-valid record from being published (see the module docstring)."""
    problems = []
    plugin = getattr(record.provenance, "detector_plugin", None)
    if record.job.detector_version == "external":
        problems.append(Problem("job.detector_version", "'external': maps scored by `benchkit evaluate` have no "
                                                        "public plugin behind them and are not published"))
    if plugin is None:
        problems.append(Problem("provenance.detector_plugin", "missing: the record does not name the plugin "
                                "distribution and version that produced it (run with the published plugin installed "
                                "through pip, not through BENCHKIT_PLUGINS)"))
    else:
        why = _release(plugin.version)
        if why:
            problems.append(Problem("provenance.detector_plugin.version", f"{why}; install a released version"))
        if not web_url(plugin.source):
            problems.append(Problem("provenance.detector_plugin.source", f"{plugin.source or 'missing'}: no public "
                                    f"source URL; declare [project.urls] Source = \"https://...\" in the plugin's "
                                    f"pyproject.toml"))
    if record.provenance.git_dirty:
        problems.append(Problem("provenance.git_dirty", "benchkit ran from a checkout with uncommitted changes"))
    backbones = list(getattr(record, "backbones", []) or [])
    for i, b in enumerate(backbones):
        if b.weights == "pretrained" and not (b.sha256 and _SHA256.match(b.sha256) and b.path):
            problems.append(Problem(f"backbones.{i}", f"backbone {b.name} is recorded as pretrained without its "
                                                      f"weights file and SHA-256"))
    if record.weights == "pretrained":
        if not any(b.weights == "pretrained" for b in backbones):
            problems.append(Problem("weights", "says pretrained, but the record lists no pretrained backbone with "
                                               "a weights digest"))
        if any(b.weights == "random-init" for b in backbones):
            problems.append(Problem("weights", "says pretrained, but a backbone was randomly initialised: the row "
                                               "must be marked random-init"))
    elif record.weights != "random-init" and any(b.weights == "random-init" for b in backbones):
        problems.append(Problem("weights", f"is {record.weights!r}, but a backbone was randomly initialised: the row "
                                           f"must be marked random-init"))
    return problems


def check_submission(path: str | Path) -> FileCheck:
    """Strict validation plus the publication checks of one file."""
    check = check_file(path, strict=True)
    if check.ok:
        check.problems.extend(publication_problems(check.record))
    return check


def check_submissions(targets: Iterable[str | Path]) -> list[FileCheck]:
    """`check_submission` for files and for every record under folders."""
    out = []
    for target in map(Path, targets):
        checks = scan_results(target, strict=True) if target.is_dir() else [check_file(target, strict=True)]
        for check in checks:
            if check.ok:
                check.problems.extend(publication_problems(check.record))
            out.append(check)
    return out
