#!/usr/bin/env bash
# Install uv from PyPI when it is missing (the only registry a locked-down machine may reach).
set -euo pipefail
if command -v uv >/dev/null 2>&1; then exit 0; fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
fi
python3 -m pip install --quiet --user uv 2>/dev/null \
  || python3 -m pip install --quiet --user --break-system-packages uv
command -v uv >/dev/null 2>&1 || [ -x "$HOME/.local/bin/uv" ] || { echo "install_uv: uv not found after install" >&2; exit 1; }
