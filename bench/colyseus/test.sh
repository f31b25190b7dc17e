#!/usr/bin/env bash
# Start server.js on a spare port, run smoke.js (SDK), raw_client.js (raw
# protocol) and game_logic_test.js against it, then stop the server.
# Usage: ./test.sh [port]   (default 25670). Run ./install.sh first.
set -euo pipefail
cd "$(dirname "$0")"
PORT="${1:-25670}"
LOG="$(mktemp)"
node server.js --port "$PORT" >"$LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on $PORT" "$LOG" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done
grep -q "listening on $PORT" "$LOG" || { echo "server did not start"; cat "$LOG"; exit 1; }
status=0
node smoke.js --port "$PORT" || status=1
node raw_client.js --port "$PORT" || status=1
node game_logic_test.js --port "$PORT" || status=1
exit $status
