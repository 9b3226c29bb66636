#!/usr/bin/env bash
# Regenerate requirements.lock (pinned, with hashes) from uv.lock, so pip-style tools and
# scripts/verify_packages.py check exactly what uv installs. Run from anywhere in the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp requirements.lock.XXXXXX)"
trap 'rm -f "$tmp"' EXIT
uv export --frozen --all-extras --no-emit-project --format requirements-txt --quiet > "$tmp"
chmod 644 "$tmp"
mv "$tmp" requirements.lock
trap - EXIT
echo "requirements.lock: $(grep -c '^[A-Za-z0-9]' requirements.lock) pinned packages from uv.lock"
