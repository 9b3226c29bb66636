#!/usr/bin/env bash
# Headless Chromium screenshots of the run's evidence/report.html and of an asset's Plots tab in
# the Dagster UI, into evidence/screenshots/. Uses the UI at $UI_URL when it answers; otherwise
# starts `make ui` on a free local port for the shot and stops it afterwards.
#
#   scripts/screenshot_report.sh [ASSET]      (default asset: g1_architecture_gate)
#   UI_URL=http://127.0.0.1:3000 scripts/screenshot_report.sh state_cache_latency
set -euo pipefail
export PATH="$HOME/.local/bin:$PATH"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ASSET="${1:-g1_architecture_gate}"
OUT="${SCREENSHOT_DIR:-$ROOT/evidence/screenshots}"
REPORT="$ROOT/evidence/report.html"
UI_URL="${UI_URL:-http://127.0.0.1:3000}"
WAIT_S="${UI_WAIT_S:-90}"

if [ ! -f "$REPORT" ]; then
  echo "screenshot_report: $REPORT not found; run \`make gate\` first" >&2
  exit 2
fi
"$ROOT/scripts/ensure_chromium.sh" >/dev/null
mkdir -p "$OUT"
PROFILE="$(mktemp -d)"
UI_PID=""
cleanup() {
  if [ -n "$UI_PID" ]; then
    kill -TERM -- "-$UI_PID" 2>/dev/null || true
    for _ in $(seq 1 5); do kill -0 "$UI_PID" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$UI_PID" 2>/dev/null || true
    wait "$UI_PID" 2>/dev/null || true
  fi
  rm -rf "$PROFILE"
}
trap cleanup EXIT

shot() { # url file width height wait_ms
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$PROFILE" --window-size="$3,$4" --virtual-time-budget="$5" \
    --screenshot="$2" "$1" >/dev/null 2>&1
  [ -s "$2" ] || { echo "screenshot_report: chromium wrote no $2" >&2; exit 1; }
  echo "screenshot_report: wrote $2"
}

answers() { curl -fs -o /dev/null --max-time 3 "$1/server_info" 2>/dev/null; }

shot "file://$REPORT" "$OUT/report.png" 1280 7600 5000

if ! answers "$UI_URL"; then
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  UI_URL="http://127.0.0.1:$PORT"
  echo "screenshot_report: no UI answering; starting make ui on $UI_URL"
  setsid make -C "$ROOT" --no-print-directory ui UI_PORT="$PORT" >"$OUT/ui.log" 2>&1 &
  UI_PID=$!
  for _ in $(seq 1 "$WAIT_S"); do answers "$UI_URL" && break; sleep 1; done
  answers "$UI_URL" || { echo "screenshot_report: UI not up after ${WAIT_S} s (see $OUT/ui.log)" >&2; exit 1; }
fi
# The asset page's Overview, its Metadata section switched from Table to Plots: one chart per
# numeric metadata entry over the asset's materializations. The switch is a button, not a URL,
# so cdp_screenshot.py clicks it (and the first-visit dialog's Skip, when it shows).
(cd "$ROOT" && uv run --frozen python scripts/cdp_screenshot.py "$UI_URL/assets/$ASSET" \
  "$OUT/plots_$ASSET.png" --click '?Skip' --click Plots --width 1440 --height 2000 --settle 6)
echo "screenshot_report: wrote $OUT/plots_$ASSET.png"
