#!/usr/bin/env bash
# Builds non-editable wheels of benchkit and every first-party plugin, installs them into a virtual environment of
# their own and runs benchkit from there, outside the checkout: metadata, reported numbers and the embedded data
# must come from the installed packages alone.
#   scripts/check_wheels.sh [VENV]   (VENV is created when missing; an existing one is reused for its dependencies)
#   CHECK_RUN_ALL=0 skips the `benchkit run --all` step (the longest).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$(mktemp -d)/venv}
work=$(mktemp -d)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip() { "$venv/bin/python" -m pip -q --disable-pip-version-check "$@"; }

"$venv/bin/python" -c "import torch, torchvision" 2>/dev/null || pip install "torch==2.14.1" "torchvision==0.29.1"
dirs=("$repo")
for d in "$repo"/plugins/*/; do [ -f "$d/pyproject.toml" ] && dirs+=("$d"); done
pip wheel --no-deps -w "$work/dist" "${dirs[@]}"
pip uninstall -y $(ls "$work/dist" | sed 's/-[0-9].*//' | tr '_' '-') >/dev/null 2>&1 || true
pip install "$work"/dist/*.whl

cd "$work"  # nothing below may read the checkout
export BENCHKIT_CACHE="$work/cache"
bk="$venv/bin/benchkit"
"$bk" datasets info mvtec3d > info.txt && grep -q "cable_gland" info.txt && echo "check: datasets info from the wheel: ok"
if [ "${CHECK_RUN_ALL:-1}" != 0 ]; then
  "$bk" run --all --results "$work/results" --no-site --quiet
fi
"$bk" run --detector btf-raw --dataset synthetic-pc --category blob --results "$work/results" --no-site --quiet
"$bk" leaderboard build --results "$work/results" --out "$work/site" > /dev/null
papers=$("$venv/bin/python" -c "from benchkit.reported import load_reported; print(len(load_reported()))")
[ "$papers" -ge 4 ] && echo "check: $papers papers' reported numbers from the wheels: ok"
grep -rlq "Reported" "$work/site" && echo "check: site with reported rows built from the wheels: ok"
echo "check: wheels in $work/dist, venv $venv"
