#!/usr/bin/env bash
# The games load side by side: the same generator (`betbet-load game`), the same Connect
# Four sessions and the same run sequence against `betbet serve` (moves journaled, durable)
# and against this directory's Colyseus room (moves in the Node process's memory). Each run
# gets a fresh server; the summary line of every run goes to stdout, the full reports to
# $OUT/PEER-RATE.txt.
#
#   bench/colyseus/install.sh
#   flock /tmp/betbet-cpu.lock cargo build --release --bin betbet --bin betbet-load
#   bench/colyseus/side-by-side.sh [RATE ...]     (default 1000 2000 ... 5000 moves/s)
#
# Environment: SESSIONS (2500), WARMUP (5s), DURATION (15s), OUT (a new temporary dir),
# PEERS ("betbet colyseus"), PING_INTERVAL (the Colyseus room's, ms; its default 3000).
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS="${SESSIONS:-2500}"
WARMUP="${WARMUP:-5s}"
DURATION="${DURATION:-15s}"
PEERS="${PEERS:-betbet colyseus}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(1000 2000 2500 3000 3500 4000 4500 5000)
LOAD=target/release/betbet-load
[ -x "$LOAD" ] && [ -x target/release/betbet ] || {
  echo "build first: cargo build --release --bin betbet --bin betbet-load" >&2; exit 1; }
[ -d bench/colyseus/node_modules ] || [[ "$PEERS" != *colyseus* ]] || {
  echo "install Colyseus first: bench/colyseus/install.sh" >&2; exit 1; }

server=""
stop() { [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; server=""; }
trap stop EXIT

await() { # URL
  for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "the server at $1 did not start" >&2; exit 1
}

echo "peer rate sent/s seen/s p50_ms p99_ms p99.9_ms disconnects server_cpu_% cpu_s_per_1000_moves"
for rate in "${RATES[@]}"; do
  for peer in $PEERS; do
    data="$(mktemp -d)"
    case "$peer" in
      betbet)
        target/release/betbet serve --demo --data-dir "$data" --http-addr 127.0.0.1:18080 \
          --quic-addr 127.0.0.1:19443 --sandbox-payments --metrics-addr off \
          --http-connections-max 20000 --http-connections-per-ip-max 20000 \
          --rate-limits default=1000000/60,auth=1000000/60,wallet=1000000/60,trading=1000000/1,gaming=1000000/1 \
          >"$data/server.log" 2>&1 &
        server=$!
        await http://127.0.0.1:18080/health
        args=(--url http://127.0.0.1:18080 --credentials "$data/demo-credentials.txt") ;;
      colyseus)
        # Seats are reserved for every session before the sockets connect.
        (cd bench/colyseus && COLYSEUS_SEAT_RESERVATION_TIME=600 exec node server.js --port 2567) \
          >"$data/server.log" 2>&1 &
        server=$!
        await http://127.0.0.1:2567/
        args=(--url http://127.0.0.1:2567) ;;
      *) echo "unknown peer $peer" >&2; exit 1 ;;
    esac
    report="$OUT/$peer-$rate.txt"
    "$LOAD" game --peer "$peer" "${args[@]}" --server-pid "$server" --sessions "$SESSIONS" \
      --rate "$rate" --warmup "$WARMUP" --duration "$DURATION" >"$report" 2>"$OUT/$peer-$rate.log" || true
    stop
    rm -rf "$data"
    # One line from the report: the rates, the due-time latency, disconnects and CPU.
    sent=$(sed -nE 's/^moves: [0-9]+ sent in the window \(([0-9]+)\/s\), [0-9]+ seen by the opponent \(([0-9]+)\/s\)/\1 \2/p' "$report")
    lat=$(sed -nE 's/^move -> opponent.s update, from the due time: p50 ([0-9.]+) ms, p90 [0-9.]+ ms, p99 ([0-9.]+) ms, p99.9 ([0-9.]+) ms.*/\1 \2 \3/p' "$report")
    disc=$(sed -nE 's/^disconnects: ([0-9]+)/\1/p' "$report")
    cpu=$(sed -nE 's/^server: cpu ([0-9.]+)% of a core \(([0-9.]+) cpu-s.*/\1 \2/p' "$report")
    echo "$peer $rate ${sent:-- -} ${lat:-- - -} ${disc:--} ${cpu:-- -}"
  done
done
echo "reports in $OUT" >&2
