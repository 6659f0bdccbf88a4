"""Frozen-feature reuse across detectors: a second detector on the same backbones computes (almost) no features.

Runs ``benchkit run`` twice on one synthetic-rgbd category with an empty feature cache (a temporary
``$BENCHKIT_CACHE``, generated data included): first detector A, then detector B, which uses the same backbones.
Each job's record says how many frozen-feature seconds it computed and reused (``efficiency.feature_*``); the
script prints both and, as the last line, ``ratio=<B's computed seconds / A's computed seconds>``.

Default pair: ``m3dm-weightfree`` then ``cfm-weightfree`` (weight-free backbones ``rgb-texture`` + ``fpfh-pixels``).
``--paper``: ``m3dm`` then ``cfm`` (one epoch on 256 positions per image, to keep it short) on DINO ViT-B/8 +
Point-MAE, with checkpoints written in the official layouts with random values into a temporary
``$BENCHKIT_WEIGHTS`` (the timings are real; the scores mean nothing).

Usage: python benchmarks/bench_feature_cache.py [--category donut] [--paper] [--check]
(``--check`` exits 1 unless B's computed feature time is under 10 % of A's and B reused entries.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MAX_RATIO = 0.10


def run_detector(name: str, category: str, results: Path, env: dict[str, str], params: list[str]) -> dict:
    cmd = [sys.executable, "-m", "benchkit", "run", "--detector", name, "--dataset", "synthetic-rgbd", "--category",
           category, "--results", str(results), "--workers", "1", "--no-site", "--quiet", *params]
    subprocess.run(cmd, env=env, check=True)
    for path in results.rglob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("job", {}).get("detector") == name:
            return record
    raise SystemExit(f"no record of {name} under {results}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="donut")
    parser.add_argument("--paper", action="store_true", help="m3dm then cfm on generated official-layout checkpoints")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless the ratio is under {MAX_RATIO}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-feature-cache-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "BENCHKIT_CACHE": str(root / "cache"), "BENCHKIT_FEATURE_CACHE": "on"}
        pair = [("m3dm-weightfree", []), ("cfm-weightfree", [])]
        if args.paper:
            from benchkit_image_backbones.checkpoints import write_dino_checkpoint, write_point_mae_checkpoint

            env["BENCHKIT_WEIGHTS"] = str(root / "weights")
            write_dino_checkpoint(root / "weights" / "dino_vitbase8_pretrain.pth")
            write_point_mae_checkpoint(root / "weights" / "pointmae_pretrain.pth")
            pair = [("m3dm", []), ("cfm", ["--param", "epochs=1", "--param", "positions_per_image=256"])]
        rows = []
        for name, params in pair:
            record = run_detector(name, args.category, root / "results", env, params)
            if record["status"] != "ok":
                raise SystemExit(f"{name}: {record['status']}: {record.get('error')}")
            eff = record["efficiency"]
            rows.append((name, eff.get("feature_seconds_computed", 0.0), eff.get("feature_seconds_reused", 0.0),
                         eff.get("feature_entries_computed", 0), eff.get("feature_entries_reused", 0),
                         eff.get("latency_ms_median")))
    for name, computed, reused, n_computed, n_reused, latency in rows:
        print(f"{name:18s} features computed {computed:8.2f} s ({n_computed} entries), reused {reused:8.2f} s "
              f"({n_reused} entries), median latency {latency:.0f} ms (as if uncached)")
    ratio = rows[1][1] / rows[0][1] if rows[0][1] > 0 else float("inf")
    print(f"ratio={ratio:.4f}")
    if args.check and not (ratio < MAX_RATIO and rows[1][4] > 0):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
