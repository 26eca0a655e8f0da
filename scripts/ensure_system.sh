#!/usr/bin/env bash
# Install the Debian packages SynthCheck shells out to, only those that are missing.
# Usage: scripts/ensure_system.sh [app|test]   (default: test, which includes app)
# Idempotent and quiet: apt-get update runs only when something is missing. Needs root or sudo
# to install. tests/test_setup_scripts.py checks that every program the code calls is listed.
set -euo pipefail

# kind   what            Debian package   who needs it
APP=(
  "module ensurepip      python3-venv"    # scripts/setup.sh: python3 -m venv .venv
  "program git           git"             # synthcheck/version.py: the code version in reports
  "program sort          coreutils"       # this script
)
TEST=(
  "program bash          bash"            # tests/test_cifake.py runs the CIFAKE unpack script
  "program pdftoppm      poppler-utils"   # tests/test_report_pdf.py: PDF pages as pictures
  "program pdftotext     poppler-utils"   # tests/test_report_pdf.py, tests/test_case_custody.py
  "program chromium      chromium"        # tests/e2e/: Playwright drives /usr/bin/chromium
)

case "${1:-test}" in
  app) wanted=("${APP[@]}") ;;
  test) wanted=("${APP[@]}" "${TEST[@]}") ;;
  --list) printf '%s\n' "${APP[@]}" "${TEST[@]}"; exit 0 ;;  # for tests/test_setup_scripts.py
  *) echo "usage: $0 [app|test|--list]" >&2; exit 2 ;;
esac

PY=${PYTHON:-python3}
present() {  # kind name
  case "$1" in
    program) command -v "$2" >/dev/null 2>&1 ;;
    module) "$PY" -c "import $2" >/dev/null 2>&1 ;;
  esac
}

missing=()
for entry in "${wanted[@]}"; do
  read -r kind name pkg <<<"$entry"
  present "$kind" "$name" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${wanted[@]}"; do
  read -r kind name pkg <<<"$entry"
  present "$kind" "$name" || { echo "$pkg installed but $name is still missing" >&2; exit 1; }
done
if [[ " ${missing[*]} " == *" chromium "* ]] && ! /usr/bin/chromium --version >/dev/null 2>&1; then
  echo "chromium installed but does not run" >&2; exit 1
fi
