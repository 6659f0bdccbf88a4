"""Detectors that misbehave on purpose, for the fault tests (loaded through BENCHKIT_PLUGINS beside
`fixture_plugins`). Each logs what it does to $BENCHKIT_FAULT_LOG (one JSON line per event) so a test can tell
which process did what, then misbehaves as its name says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from benchkit import DetectorSpec, hookimpl

from fixture_plugins import NNDistance


def log(event: str, **fields) -> None:
    path = os.environ.get("BENCHKIT_FAULT_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")


class Hang(NNDistance):
    """Never returns from fit (until killed); with $BENCHKIT_FAULT_CHILD, it first starts a child process that also
    sleeps, so a test can check that nothing the job started outlives the run."""

    def fit(self, samples):
        categories = sorted({s.category for s in samples})
        if os.environ.get("BENCHKIT_FAULT_CHILD"):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            log("child", child=child.pid)
        log("fit", categories=categories)
        while True:
            time.sleep(0.2)


class Hog(NNDistance):
    """Holds $BENCHKIT_FAULT_MB megabytes of touched memory in fit, then sleeps."""

    def fit(self, samples):
        self.block_ = np.ones(int(float(os.environ.get("BENCHKIT_FAULT_MB", "512")) * 2**20), dtype=np.uint8)
        log("fit", bytes=int(self.block_.nbytes))
        time.sleep(60)
        return super().fit(samples)


class Exits(NNDistance):
    """Calls sys.exit(0) in fit, as a careless script would."""

    def fit(self, samples):
        sys.exit(0)


class Counted(NNDistance):
    """Logs every fit (category, pid) and sleeps $BENCHKIT_TEST_SLEEP seconds first: how often did a job run?"""

    def fit(self, samples):
        log("fit", categories=sorted({s.category for s in samples}))
        time.sleep(float(os.environ.get("BENCHKIT_TEST_SLEEP", "0")))
        return super().fit(samples)


@hookimpl
def register_detectors(register):
    points = frozenset({"points"})
    for name, cls, text in (("hang", Hang, "never returns from fit"), ("hog", Hog, "holds memory in fit"),
                            ("exits", Exits, "calls sys.exit(0) in fit"), ("counted", Counted, "logs each fit")):
        register(DetectorSpec(name, "1", f"Fault-test detector that {text}", cls, points))
