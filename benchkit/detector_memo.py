"""What the planner asks of a detector (its parameters, the backbones it will build), remembered between runs.

Why: answering means building the detector, which imports its module, and several detector modules import torch
(2-4 s). A rerun with nothing to do should not pay for that. An answer is stored under
``$BENCHKIT_CACHE/detectors/``, keyed by detector name, version and the parameters passed, with the size and
modification time of every source file that can change it: the factory's module and the module of the detector's
class and of each of its bases. It is used only while all of those files are unchanged; anything else (a file
edited, a new version installed, an unreadable entry) builds the detector again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

from benchkit.jobs import jsonable
from benchkit.paths import cache_dir

FORMAT_VERSION = 1


def describe(det_spec: Any, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(``get_params()`` as JSON values, ``backbone_names()``) of ``det_spec.build(**params)``."""
    key = json.dumps({"format": FORMAT_VERSION, "name": det_spec.name, "version": det_spec.version,
                      "params": jsonable(params)}, sort_keys=True, default=repr)
    path = cache_dir() / "detectors" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    try:
        entry = json.loads(path.read_text())
        if entry["key"] == key and all(_stamp(f) == stamp for f, stamp in entry["files"].items()):
            return entry["params"], entry["backbones"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    detector = det_spec.build(**params)
    answer = jsonable(detector.get_params()), list(detector.backbone_names())
    files = {f: _stamp(f) for f in _source_files(det_spec, detector)}
    if all(files.values()):
        try:
            from benchkit.results import write_json_atomic

            write_json_atomic(path, {"key": key, "files": files, "params": answer[0], "backbones": answer[1]})
        except (OSError, ValueError):
            pass  # a cache that cannot be written only costs the next run the build
    return answer


def _source_files(det_spec: Any, detector: Any) -> list[str]:
    modules = [getattr(det_spec.factory, "__module__", None)]
    modules += [cls.__module__ for cls in type(detector).__mro__ if cls is not object]
    files = []
    for name in dict.fromkeys(m for m in modules if m):
        try:
            files.append(str(Path(inspect.getfile(sys.modules[name])).resolve()))
        except (KeyError, TypeError, OSError):
            files.append(f"<unknown module {name}>")  # no file to watch: never reused
    return files


def _stamp(file: str) -> list[int] | None:
    try:
        st = os.stat(file)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]
