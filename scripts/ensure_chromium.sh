#!/usr/bin/env bash
# Make Debian's headless-capable `chromium` available, installing the package when it is
# missing (like ensure_services.sh does for PostgreSQL and Redis). Idempotent. Exit 3 (and one
# line on stderr saying why) when it is missing and cannot be installed here: no apt-get, or no
# root and no sudo. The browser test skips on exit 3 only; any other failure fails it.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "ensure_chromium: $(command -v chromium)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium is not installed and apt-get is not available to install it" >&2
  exit 3
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
    echo "ensure_chromium: chromium is not installed and installing it needs root (no usable sudo)" >&2
    exit 3
  fi
  SUDO="sudo -n"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "ensure_chromium: apt-get ran but no chromium on PATH" >&2; exit 1; }
echo "ensure_chromium: installed $(command -v chromium)"
