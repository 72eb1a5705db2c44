#!/usr/bin/env bash
# One benchmark run, every server on this machine, by the method of ../shared/peers: each server
# started fresh per round and endpoint, pinned to core SERVER_CPU (0); wrk pinned to WRK_CPU (1),
# -t1 -cCONNS, WARMUP (3 s) then DURATION (10 s) with --latency; loopback only; medians over
# ROUNDS (3). Called by `cargo xtask bench` after the release builds; writes
# target/bench/<UTC time>.json and prints the table.
#
# Servers: the axum hello-world ceiling, the Express peer, the Nuxt SSR peer, sessionflow on SQLite,
# and sessionflow on PostgreSQL when BENCH_DATABASE_URL (or TEST_DATABASE_URL) names a database
# whose role may CREATE DATABASE. Peers are copied to PEERS_DIR (~/.cache/sessionflow-peers) and
# installed there once (npm ci; nuxi build; the ceiling's cargo build): ../shared stays read-only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED=${SHARED:-$ROOT/../shared}
PEERS_DIR=${PEERS_DIR:-$HOME/.cache/sessionflow-peers}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s} CONNS=${CONNS:-64}
SERVER_CPU=${SERVER_CPU-0} WRK_CPU=${WRK_CPU-1}
SERVERS=${SERVERS:-ceiling express nuxt sessionflow-sqlite sessionflow-postgres}
# ENDPOINTS narrows a run (e.g. "refresh" while profiling); BIN_DIR runs another build's server.
ENDPOINTS=${ENDPOINTS:-} BIN_DIR=${BIN_DIR:-target/release}
PG_URL=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-}}
PORT=3400
EMAIL=bench@example.com PASSWORD=bench-password-1
SECRET=benchmark-secret-0123456789abcdef0123456789

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
PIN_S=() PIN_W=()
if command -v taskset >/dev/null; then
  [[ -n "$SERVER_CPU" ]] && PIN_S=(taskset -c "$SERVER_CPU")
  [[ -n "$WRK_CPU" ]] && PIN_W=(taskset -c "$WRK_CPU")
fi
WORK=$(mktemp -d /tmp/sessionflow-bench.XXXXXX)
SPID=""
stop() {
  if [[ -n "$SPID" ]] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID"
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  SPID=""
}
trap 'stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
say() { echo "==> $*" >&2; }

# ── the peers, prepared once in PEERS_DIR ─────────────────────────────────────────────────────
prepare_peers() {
  mkdir -p "$PEERS_DIR"
  if [[ " $SERVERS " == *" ceiling "* && ! -x "$PEERS_DIR/ceiling/target/release/ceiling" ]]; then
    say "building the axum ceiling in $PEERS_DIR/ceiling"
    bash "$SHARED/peers/ceiling/build.sh" "$PEERS_DIR/ceiling" >&2
  fi
  for peer in express nuxt; do
    [[ " $SERVERS " == *" $peer "* ]] || continue
    if [[ ! -d "$PEERS_DIR/$peer/node_modules" ]]; then
      say "installing the $peer peer in $PEERS_DIR/$peer (npm ci; better-sqlite3 builds from source)"
      rm -rf "${PEERS_DIR:?}/$peer" && cp -r "$SHARED/peers/$peer" "$PEERS_DIR/$peer"
      # The Nuxt peer's lock file is not `npm ci`-clean under npm 11 (optional platform
      # packages); its README says `npm install`, which still follows the lock's versions.
      local how=ci; [[ $peer == nuxt ]] && how=install
      (cd "$PEERS_DIR/$peer" && npm_config_nodedir=/usr npm "$how" --no-audit --no-fund >&2)
    fi
  done
  if [[ " $SERVERS " == *" nuxt "* && ! -f "$PEERS_DIR/nuxt/.output/server/index.mjs" ]]; then
    say "building the nuxt peer (nuxi build)"
    (cd "$PEERS_DIR/nuxt" && npx nuxi build >&2)
  fi
}

# ── one measured run ──────────────────────────────────────────────────────────────────────────
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

# start NAME READY_PATH CMD...: a fresh server on $PORT, pinned; waits for READY_PATH.
start() {
  local name=$1 ready=$2; shift 2
  "${PIN_S[@]}" "$@" >"$WORK/$name.log" 2>&1 &
  SPID=$!
  for _ in $(seq 200); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT$ready" && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

# measure SERVER ENDPOINT CONNS PATH [wrk args...]: warm-up, measured run, one TSV row.
measure() {
  local server=$1 endpoint=$2 conns=$3 path=$4; shift 4
  local out="$WORK/wrk.out"
  set -- "${@//@ACCESS@/$ACCESS}"  # the token the server just issued
  TOKENS_FILE=$WORK/warm.txt WRK_THREADS=1 "${PIN_W[@]}" \
    wrk -t1 -c"$conns" -d"$WARMUP" "$@" "http://127.0.0.1:$PORT$path" >/dev/null
  TOKENS_FILE=$WORK/tokens.txt WRK_THREADS=1 "${PIN_W[@]}" \
    wrk -t1 -c"$conns" -d"$DURATION" --latency "$@" "http://127.0.0.1:$PORT$path" >"$out"
  local rps p50 p99 bad hwm
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out"); bad=${bad:-0}
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
  if grep -q WARNING "$out"; then grep WARNING "$out" >&2; fi
  if [[ "$bad" != 0 ]]; then echo "$server $endpoint: $bad non-2xx answers (not valid)" >&2; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$endpoint" "$conns" "$rps" "$p50" "$p99" "$bad" "$hwm" \
    | tee -a "$WORK/rows.tsv" >&2
}

# fresh SERVER ENDPOINT CONNS PATH [wrk args...]: the server started anew for this endpoint;
# refresh tokens seeded only for the endpoints that spend them.
fresh() {
  local server=$1 endpoint=$2
  [[ -z "$ENDPOINTS" || " $ENDPOINTS " == *" $endpoint "* ]] || return 0
  local fn=${server//-/_}
  "start_$fn"
  : >"$WORK/warm.txt"; : >"$WORK/tokens.txt"
  if [[ $endpoint == refresh || $endpoint == ssr_notes_refresh ]]; then
    "seed_${fn%%_sqlite}" "$WARM_TOKENS" "$WORK/warm.txt"
    "seed_${fn%%_sqlite}" "$TOKENS" "$WORK/tokens.txt"
  fi
  measure "$@"
  stop
}
WARM_TOKENS=${WARM_TOKENS:-15000} TOKENS=${TOKENS:-50000}

REFRESH_LUA=$SHARED/peers/refresh.lua
SSR_REFRESH_LUA=$ROOT/xtask/bench-ssr-refresh.lua

# ── the servers ───────────────────────────────────────────────────────────────────────────────
start_ceiling() { start ceiling / env PORT=$PORT "$PEERS_DIR/ceiling/target/release/ceiling"; }

start_express() {
  rm -f "$WORK"/express.db*
  start express /healthz env PORT=$PORT DB_PATH="$WORK/express.db" JWT_SECRET=$SECRET \
    node "$PEERS_DIR/express/server.js"
  ACCESS=$(node "$PEERS_DIR/express/seed.js" user "http://127.0.0.1:$PORT" $EMAIL $PASSWORD)
}
seed_express() { DB_PATH="$WORK/express.db" node "$PEERS_DIR/express/seed.js" tokens $EMAIL "$1" "$2"; }

start_nuxt() {
  rm -f "$WORK"/nuxt.db*
  (cd "$PEERS_DIR/nuxt" && DB_PATH="$WORK/nuxt.db" JWT_SECRET=$SECRET node seed.mjs >"$WORK/nuxt-seed.txt")
  ACCESS=$(sed -n 's/^access_token=//p' "$WORK/nuxt-seed.txt")
  start nuxt /healthz env PORT=$PORT HOST=127.0.0.1 DB_PATH="$WORK/nuxt.db" JWT_SECRET=$SECRET \
    node "$PEERS_DIR/nuxt/.output/server/index.mjs"
}

# sessionflow on DATABASE_URL: release server, a user with 20 notes, refresh tokens seeded.
start_sessionflow() {
  local name=$1
  start "$name" /healthz env LEPTOS_SITE_ADDR=127.0.0.1:$PORT DATABASE_URL="$DB" RUST_LOG=warn \
    JWT_SECRET=$SECRET LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=app \
    AUTH_RATE_LIMIT_PER_ADDRESS=1000/1m "$BIN_DIR/server"
  ACCESS=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  for i in $(seq 20); do
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$PORT/api/notes" -H "authorization: Bearer $ACCESS" \
      -H 'content-type: application/json' -d "{\"title\":\"Note $i\",\"body\":\"The body of note $i, a sentence or two long.\"}"
  done
}
seed_nuxt() { (cd "$PEERS_DIR/nuxt" && DB_PATH="$WORK/nuxt.db" JWT_SECRET=$SECRET node seed.mjs tokens $EMAIL "$1" "$2" >/dev/null); }
seed_sessionflow() { DATABASE_URL="$DB" "$BIN_DIR/examples/seed_tokens" $EMAIL "$1" "$2"; }
seed_sessionflow_postgres() { seed_sessionflow "$@"; }
start_sessionflow_sqlite() {
  rm -f "$WORK"/ours.db*
  DB="sqlite://$WORK/ours.db?mode=rwc"
  start_sessionflow sessionflow-sqlite
}
start_sessionflow_postgres() {
  local name="bench_$(date +%s%N)"
  psql "$PG_URL" -qc "CREATE DATABASE $name" >/dev/null
  DB="${PG_URL%/*}/$name"
  start_sessionflow sessionflow-postgres
}

# ── the run ───────────────────────────────────────────────────────────────────────────────────
prepare_peers
[[ -z "$PG_URL" ]] && SERVERS=${SERVERS/sessionflow-postgres/}
say "servers: $SERVERS; $ROUNDS rounds of ${DURATION} (warm-up ${WARMUP}), $CONNS connections"
: >"$WORK/rows.tsv"
for round in $(seq "$ROUNDS"); do
  for s in $SERVERS; do
    say "round $round: $s"
    case "$s" in
      ceiling) fresh ceiling hello "$CONNS" / ;;
      express)
        fresh express me "$CONNS" /api/me -H "Authorization: Bearer @ACCESS@"
        fresh express refresh "$CONNS" /api/auth/refresh -s "$REFRESH_LUA" ;;
      nuxt)
        fresh nuxt me "$CONNS" /api/me -H "Authorization: Bearer @ACCESS@"
        fresh nuxt ssr_notes "$CONNS" /notes -H "Cookie: access_token=@ACCESS@"
        fresh nuxt ssr_notes_refresh "$CONNS" /notes -s "$SSR_REFRESH_LUA" ;;
      sessionflow-sqlite|sessionflow-postgres)
        fresh "$s" me "$CONNS" /api/me -H "Authorization: Bearer @ACCESS@"
        fresh "$s" refresh "$CONNS" /api/auth/refresh -s "$REFRESH_LUA"
        fresh "$s" ssr_notes "$CONNS" /notes -H "Cookie: access_token=@ACCESS@"
        fresh "$s" ssr_notes_refresh "$CONNS" /notes -s "$SSR_REFRESH_LUA"
        fresh "$s" ssr_notes 256 /notes -H "Cookie: access_token=@ACCESS@" ;;
    esac
  done
done
cp "$WORK/rows.tsv" "${BENCH_ROWS:-/dev/null}"
cat "$WORK/rows.tsv"
