#!/usr/bin/env bash
# Installs the Debian packages the app needs when they are missing (run as root).
# `--test` adds what the test suite needs on top: Chromium for the browser tests, and faketime
# to run the suite (or `manage.py seed_demo`) as if it were another day.
set -euo pipefail
need=()
command -v msgfmt >/dev/null || need+=(gettext)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
ldconfig -p | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b)
# WeasyPrint trims the CJK font with it in 0.2 s a PDF; without it, in about 9 s.
ldconfig -p | grep -q 'libharfbuzz-subset.so' || need+=(libharfbuzz-subset0)
fc-list 2>/dev/null | grep -q 'Noto Sans CJK' || need+=(fonts-noto-cjk fontconfig)
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v pdftotext >/dev/null || need+=(poppler-utils)
  command -v faketime >/dev/null || need+=(faketime)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
