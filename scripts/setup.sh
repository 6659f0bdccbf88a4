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

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip -q --disable-pip-version-check "$@"; }

# A CPU build of torch: plain 'torch' from PyPI is a multi-GB CUDA build. 2.13.0 is the CPU wheel that these
# machines keep locally; elsewhere the PyTorch CPU index is tried, and plain PyPI last.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip install "torch==2.13.0" 2>/dev/null \
    || pip install torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
    || pip install torch
fi

args=(-e ".${extras}")
for d in plugins/*/; do [ -f "$d/pyproject.toml" ] && args+=(-e "$d"); done
pip install "${args[@]}"
.venv/bin/python -c "import benchkit, open3d, faiss, torch" || { echo "setup: import check failed" >&2; exit 1; }
echo "setup: ready (.venv/bin/benchkit)"
