#!/usr/bin/env bash
# Sets up ./.venv with benchkit and every first-party plugin (editable installs). --test adds the test tools.
# Safe to re-run: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
PYTHON=${PYTHON:-python3}

# open3d needs the system library libusb-1.0 even when no USB device is used.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing libusb-1.0-0 (needed by open3d)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "setup: open3d needs the system library libusb-1.0. Install it (Debian/Ubuntu: sudo apt-get install libusb-1.0-0) and re-run." >&2
    exit 1
  fi
fi

# --test: the browser test (tests/test_browser.py) drives Debian's Chromium through its chromedriver.
if [ -n "$extras" ] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing chromium and chromium-driver (for the browser test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: the browser test needs Chromium and its driver (Debian/Ubuntu: sudo apt-get install chromium chromium-driver); without them it is skipped." >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip -q --disable-pip-version-check "$@"; }

# torch with a matching torchvision (timm and open_clip need torchvision). 2.14.1 / 0.29.1 lie on these machines'
# disks (pip finds them there, no download). Elsewhere, set BENCHKIT_TORCH_INDEX to PyTorch's CPU wheel index
# (https://download.pytorch.org/whl/cpu) to get the small CPU build instead of PyPI's default CUDA build; the CUDA
# build also runs on the CPU. Whichever build is installed, records name it (provenance.packages.torch).
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  # the CUDA build fills about 7 GB of .venv; say so up front rather than let pip stop half-way with "No space left"
  free_kb=$(df -Pk .venv | awk 'NR == 2 {print $4}')
  if [ -z "${BENCHKIT_TORCH_INDEX:-}" ] && [ "${free_kb:-0}" -lt $((8 * 1024 * 1024)) ]; then
    echo "setup: installing torch needs about 8 GB free on the disk of $(pwd)/.venv; $((free_kb / 1024)) MB are. Free space there (or set BENCHKIT_TORCH_INDEX to a CPU wheel index, a smaller build) and re-run." >&2
    exit 1
  fi
  if [ -n "${BENCHKIT_TORCH_INDEX:-}" ]; then
    pip install torch torchvision --index-url "$BENCHKIT_TORCH_INDEX"
  else
    pip install "torch==2.14.1" "torchvision==0.29.1" || pip install torch torchvision
  fi
fi

args=(-e ".${extras}")
for d in plugins/*/; do [ -f "$d/pyproject.toml" ] && args+=(-e "$d"); done
pip install "${args[@]}"
.venv/bin/python -c "import benchkit, open3d, faiss, torch" || { echo "setup: import check failed" >&2; exit 1; }
echo "setup: ready (.venv/bin/benchkit)"
