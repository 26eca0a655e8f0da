#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's browser test, only if it is missing.
# Idempotent and quiet; safe to call from CI on every run. Needs root (or sudo) to install.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/chromium --version >/dev/null 2>&1 || { echo "chromium installed but does not run" >&2; exit 1; }
