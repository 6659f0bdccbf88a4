"""Where and with what a result was computed: interpreter, machine, thread count, package versions, git state."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import re
import subprocess
from functools import lru_cache
from pathlib import Path

#: Distributions whose versions every record carries (when installed), besides the plugins that ran the job.
TRACKED_PACKAGES = ("benchkit", "numpy", "scipy", "torch", "open3d", "open3d-cpu", "faiss-cpu", "pydantic")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    versions = {}
    for name in (*TRACKED_PACKAGES, *extra):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def web_url(url: str | None) -> str:
    """``url`` when it is an http(s) address, else "" (a ``javascript:`` or local "source" is no public source, and
    the site never turns it into a link)."""
    url = (url or "").strip()
    return url if re.match(r"^https?://[^\s\"'<>]+$", url) else ""


def plugin_ref(distribution: str | None) -> dict[str, str | None] | None:
    """Name, version and declared public source URL of an installed plugin distribution (None when not installed:
    a module loaded through BENCHKIT_PLUGINS has no distribution to name)."""
    if not distribution:
        return None
    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    source = None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("source", "repository", "code", "homepage") and url.strip():
            source = url.strip()
            break
    return {"distribution": meta["Name"], "version": meta["Version"], "source": source or meta.get("Home-page")}


@lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout benchkit runs from, or (None, None) when installed from a wheel."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return commit or None, bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def collect(*, threads: int, device: str, executor: str, extra_packages: tuple[str, ...] = ()) -> dict:
    commit, dirty = git_state()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "threads": threads,
        "device": device,
        "executor": executor,
        "packages": package_versions(extra_packages),
        "git_commit": commit,
        "git_dirty": dirty,
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def default_threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))
