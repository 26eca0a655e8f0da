#!/usr/bin/env bash
# Install everything (first run only: system packages, .venv with the dev tools), then run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_system.sh test
bash scripts/setup.sh dev
exec .venv/bin/python -m pytest -ra "$@"
