#!/usr/bin/env bash
# Install everything (first run only), Chromium for the browser test, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
[ -f scripts/ensure_chromium.sh ] && bash scripts/ensure_chromium.sh
exec .venv/bin/python -m pytest -ra "$@"
