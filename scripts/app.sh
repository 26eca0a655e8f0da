#!/usr/bin/env bash
# Install everything (first run only) and start the dashboard with the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_system.sh app
bash scripts/setup.sh
exec .venv/bin/streamlit run streamlit_app.py "$@"
