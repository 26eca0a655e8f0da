#!/usr/bin/env bash
# Create .venv (if missing) and install SynthCheck into it. Usage: scripts/setup.sh [dev]
# torch/torchvision are pinned in requirements.txt to builds that install from local files here.
# One stamp per install kind; a dev install also sets the app stamp, because requirements-dev.txt
# includes requirements.txt (so `app.sh` after `test.sh` installs nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
kind=${1:-app}
req=requirements.txt
[ "$kind" = dev ] && req=requirements-dev.txt
stamp() { echo ".venv/.installed-$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16)-$1"; }
# pip's stderr without the local-index noise; its exit status still counts
pipq() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2); }
if [ ! -f "$(stamp "$kind")" ]; then
  pipq -r "$req"
  pipq --no-deps -e .
  .venv/bin/python -c "import synthcheck, torch, streamlit"
  touch "$(stamp "$kind")"
  if [ "$kind" = dev ] && grep -qx -- "-r requirements.txt" requirements-dev.txt; then
    touch "$(stamp app)"
  fi
fi
