#!/usr/bin/env bash
# The release server under wrk, by the method of ../shared/peers/bench.sh (so the numbers sit beside
# the peers'): server pinned to core 0, wrk to core 1, -t1 -c64, 3 s warm-up, 10 s measured; every
# refresh uses a never-used token (the peers' refresh.lua). Called by `cargo xtask bench --http`
# after the release build. Prints one row per endpoint and the server's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3300} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s} CONNS=${CONNS:-64}
LUA=${REFRESH_LUA:-../shared/peers/refresh.lua}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
[ -f "$LUA" ] || { echo "refresh.lua not found at $LUA (set REFRESH_LUA)" >&2; exit 1; }
PIN_S=() PIN_W=()
if command -v taskset >/dev/null; then PIN_S=(taskset -c 0) PIN_W=(taskset -c 1); fi

WORK=$(mktemp -d /tmp/sessionflow-bench.XXXXXX)
DB="sqlite://$WORK/bench.db?mode=rwc"
LEPTOS_SITE_ADDR=127.0.0.1:$PORT DATABASE_URL=$DB RUST_LOG=warn \
  JWT_SECRET=benchmark-secret-0123456789abcdef0123456789 \
  "${PIN_S[@]}" target/release/server >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; for _ in $(seq 50); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done; kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

ACCESS=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/auth/register" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password-1"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
seed() { DATABASE_URL=$DB target/release/examples/seed_tokens bench@example.com "$1" "$2"; }
seed 20000 "$WORK/warm.txt"
seed 80000 "$WORK/tokens.txt"

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
row() {
  local name=$1 path=$2; shift 2
  TOKENS_FILE=$WORK/warm.txt WRK_THREADS=1 "${PIN_W[@]}" wrk -t1 -c"$CONNS" -d"$WARMUP" "$@" "http://127.0.0.1:$PORT$path" >/dev/null
  local t0 s0 t1 s1 out=$WORK/$name.out
  t0=$(cpu); s0=$(date +%s%N)
  TOKENS_FILE=$WORK/tokens.txt WRK_THREADS=1 "${PIN_W[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" "http://127.0.0.1:$PORT$path" >"$out"
  t1=$(cpu); s1=$(date +%s%N)
  printf '%-24s %9s req/s  p50 %-9s p99 %-9s non-2xx %-4s server CPU %s%%\n' "$name $path" \
    "$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")" "$(awk '$1 == "50%" {print $2}' "$out")" \
    "$(awk '$1 == "99%" {print $2}' "$out")" "$(awk '/Non-2xx/ {print $NF}' "$out" | grep . || echo 0)" \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v ns=$((s1 - s0)) 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (ns / 1e9) }')"
  grep -i warning "$out" >&2 || true
}
echo "# sessionflow (release) on :$PORT, wrk -t1 -c$CONNS -d$DURATION, warm-up $WARMUP"
row healthz /healthz
row me /api/me -H "Authorization: Bearer $ACCESS"
row refresh /api/auth/refresh -s "$LUA"
echo "# peak RSS (VmHWM): $(awk '/^VmHWM:/ {print $2}' "/proc/$PID/status") kB"
