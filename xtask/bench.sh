#!/usr/bin/env bash
# One benchmark run, every server on this machine, by the method of ../shared/peers: each server
# started fresh per round and endpoint, pinned to core SERVER_CPU (0); wrk pinned to WRK_CPU (1),
# -t1 -cCONNS, WARMUP (3 s) then DURATION (10 s) with --latency; loopback only; medians over
# ROUNDS (3). Called by `cargo xtask bench` after the release builds; writes
# target/bench/<UTC time>.json and prints the table.
#
# Then the open-loop phase (OPEN=1): SSR /notes and refresh at fixed arrival rates, latency
# measured from when each request was due (coordinated omission corrected): `oha -q RATE
# --latency-correction` for /notes; for refresh, which must send a never-used token each time
# and oha cannot (it picks body/URL lines at random, with replacement), xtask's `openloop`
# (OPENLOOP), the same method. Rates: one common rate per endpoint, COMMON_FRACTION (0.5) of
# the slowest server's closed-loop req/s on it in this run, and for sessionflow PEAK_FRACTIONS
# (50 % and 80 %) of its own closed-loop req/s. OPEN_WARMUP (3 s) at the rate, then
# OPEN_DURATION (20 s), OPEN_CONNS (64) connections at most; a fresh server each time.
# Last the bytes (BYTES=1): the first visit of /notes for sessionflow on SQLite and Nuxt, the
# document and each script, style and wasm it loads, with `Accept-Encoding: br` then `gzip`.
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
ENDPOINTS=${ENDPOINTS:-} BIN_DIR=${BIN_DIR:-target/release} SITE_ROOT=${SITE_ROOT:-target/site}
OPEN=${OPEN:-1} OPEN_WARMUP=${OPEN_WARMUP:-3} OPEN_DURATION=${OPEN_DURATION:-20} OPEN_CONNS=${OPEN_CONNS:-64}
COMMON_FRACTION=${COMMON_FRACTION:-0.5} PEAK_FRACTIONS=${PEAK_FRACTIONS:-0.5 0.8} BYTES=${BYTES:-1}
PG_URL=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-}}
PORT=3400
EMAIL=bench@example.com PASSWORD=bench-password-1
SECRET=benchmark-secret-0123456789abcdef0123456789

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
if [[ $OPEN == 1 ]]; then
  PATH=$PATH:$HOME/.cargo/bin
  command -v oha >/dev/null || { echo "oha missing: cargo xtask bench installs it" >&2; exit 1; }
  if [[ -z "${OPENLOOP:-}" ]]; then
    cargo build --release -q -p xtask --bin openloop
    OPENLOOP=${CARGO_TARGET_DIR:-target}/release/openloop
  fi
fi
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
    JWT_SECRET=$SECRET LEPTOS_SITE_ROOT="$SITE_ROOT" LEPTOS_OUTPUT_NAME=app \
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

# ── open loop: latency at fixed arrival rates ────────────────────────────────────────────────
# peak SERVER ENDPOINT: the median closed-loop req/s at CONNS of this run (nothing if not run).
peak() {
  awk -F'\t' -v s="$1" -v e="$2" -v c="$CONNS" '$1 ~ /^[0-9]+$/ && $2 == s && $3 == e && $4 == c {print $5}' \
    "$WORK/rows.tsv" | sort -n |
    awk '{v[NR] = $1} END {if (NR) printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# common_rate ENDPOINT SERVER...: COMMON_FRACTION of the slowest of these servers' peaks.
common_rate() {
  local endpoint=$1 p min=""; shift
  for s in "$@"; do
    [[ " $SERVERS " == *" $s "* ]] || continue
    p=$(peak "$s" "$endpoint"); [[ -n "$p" ]] || continue
    if [[ -z "$min" ]] || (( p < min )); then min=$p; fi
  done
  if [[ -n "$min" ]]; then
    awk -v m="$min" -v f="$COMMON_FRACTION" 'BEGIN {r = int(m * f); print (r < 1 ? 1 : r)}'
  fi
}
count() { awk -v r="$1" -v d="$2" 'BEGIN {printf "%d", r * d + 0.5}'; }

# open_run SERVER ENDPOINT RATE OF_PEAK: a fresh server, OPEN_WARMUP then OPEN_DURATION at RATE/s;
# one `open` row with the tool's JSON (OF_PEAK: the fraction of the server's own peak, or -).
open_run() {
  local server=$1 endpoint=$2 rate=$3 of_peak=$4
  [[ -z "$ENDPOINTS" || " $ENDPOINTS " == *" $endpoint "* ]] || return 0
  [[ -n "$rate" ]] || { say "open $server $endpoint: no closed-loop rate to start from; skipped"; return 0; }
  local fn=${server//-/_} out="$WORK/open.json" url n_warm n
  n_warm=$(count "$rate" "$OPEN_WARMUP"); n=$(count "$rate" "$OPEN_DURATION")
  "start_$fn"
  case $endpoint in
    ssr_notes)
      url="http://127.0.0.1:$PORT/notes"
      local oha=(oha --no-tui -q "$rate" --latency-correction --disable-compression -c "$OPEN_CONNS"
        --worker-threads 1 -H "Cookie: access_token=$ACCESS")
      "${PIN_W[@]}" "${oha[@]}" -n "$n_warm" --output-format quiet "$url"
      "${PIN_W[@]}" "${oha[@]}" -n "$n" --output-format json "$url" >"$out" ;;
    refresh)
      url="http://127.0.0.1:$PORT/api/auth/refresh"
      : >"$WORK/open-tokens.txt"
      "seed_${fn%%_sqlite}" $(( n_warm + n )) "$WORK/open-tokens.txt"
      "${PIN_W[@]}" "$OPENLOOP" --rate "$rate" --warmup "$OPEN_WARMUP" --duration "$OPEN_DURATION" \
        --connections "$OPEN_CONNS" --method POST --lines "$WORK/open-tokens.txt" \
        --header 'Cookie: refresh_token={}' "$url" >"$out" ;;
  esac
  local hwm; hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
  stop
  printf 'open\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$endpoint" "$OPEN_CONNS" "$rate" \
    "$of_peak" "$hwm" "$(tr -d '\n\t' <"$out")" >>"$WORK/rows.tsv"
  echo "open $round $server $endpoint ${rate}/s (of peak: $of_peak): $(tr -d '\n ' <"$out" |
    grep -o '"latencyPercentiles":{[^}]*}' | grep -o '"p\(50\|99\|99\.9\)":[0-9.e-]*' | tr '\n' ' ')" >&2
}

if [[ $OPEN == 1 ]]; then
  SF=(); for s in $SERVERS; do [[ $s == sessionflow-* ]] && SF+=("$s"); done
  RATE_ssr_notes=$(common_rate ssr_notes nuxt "${SF[@]}")
  RATE_refresh=$(common_rate refresh express "${SF[@]}")
  say "open loop: common rates ssr_notes ${RATE_ssr_notes:-–}/s, refresh ${RATE_refresh:-–}/s (${COMMON_FRACTION} of the slowest peak); sessionflow at ${PEAK_FRACTIONS} of its own"
  for round in $(seq "$ROUNDS"); do
    for s in $SERVERS; do
      case "$s" in
        express) open_run express refresh "$RATE_refresh" - ;;
        nuxt) open_run nuxt ssr_notes "$RATE_ssr_notes" - ;;
        sessionflow-*)
          for e in ssr_notes refresh; do
            r=RATE_$e; open_run "$s" "$e" "${!r}" -
            p=$(peak "$s" "$e")
            for f in $PEAK_FRACTIONS; do
              if [[ -n "$p" ]]; then
                open_run "$s" "$e" "$(awk -v p="$p" -v f="$f" 'BEGIN {printf "%d", p * f}')" "$f"
              fi
            done
          done ;;
      esac
    done
  done
fi

# ── bytes: the first visit of /notes ─────────────────────────────────────────────────────────
# asset SERVER KIND PATH ENCODING [curl args]: one `asset` row, the body's bytes as sent, with
# the answer's Content-Encoding and Cache-Control and how the file was found ($HOW).
# `br` asks as a browser does, `br, gzip` (every browser that takes brotli takes gzip too, and
# sessionflow compresses pages with gzip only); `gzip` as a client without brotli.
asset() {
  local server=$1 kind=$2 path=$3 enc=$4 size code; shift 4
  local accept=$enc; [[ $enc == br ]] && accept="br, gzip"
  read -r size code < <(curl -s -o /dev/null -D "$WORK/h.txt" -H "Accept-Encoding: $accept" "$@" \
    -w '%{size_download} %{http_code}\n' "http://127.0.0.1:$PORT$path")
  header() { awk -v h="$1" -F': *' 'tolower($1) == h {sub(/^[^:]*: */, ""); sub(/\r$/, ""); v = $0} END {print v}' "$WORK/h.txt"; }
  printf 'asset\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$kind" "$path" "$enc" "$size" "$code" \
    "$(header content-encoding)" "$(header cache-control)" "$HOW" | tee -a "$WORK/rows.tsv" >&2
}
# html_assets FILE: `KIND PATH` for what the page's HTML names: <script src>, and <link> tags
# whose rel is stylesheet, modulepreload or preload (as script, style or fetch: leptos preloads
# its wasm `as="fetch"`), and what leptos' hydration loader imports. Prefetches are for other
# pages; icons and images are not code.
html_assets() {
  {
    grep -o '<script[^>]*src="[^"]*"' "$1" | sed 's/.*src="\([^"]*\)"/\1/' || true
    grep -o '<link[^>]*>' "$1" | grep -E 'rel="(stylesheet|modulepreload|preload)"' |
      grep -vE 'as="(image|font)"' | sed 's/.*href="\([^"]*\)".*/\1/' || true
    # `("ROOT", "PKG", "JS NAME", "WASM NAME", defer)`: it imports the JS and fetches the wasm.
    grep -o '("[^"]*", "[^"]*", "[^"]*", "[^"]*", \(true\|false\))' "$1" |
      sed 's/("\([^"]*\)", "\([^"]*\)", "\([^"]*\)", "\([^"]*\)".*/\1\/\2\/\3.js\n\1\/\2\/\4.wasm/' || true
  } | sed 's/&amp;/\&/g' | awk '!seen[$0]++' | while read -r path; do
    local kind=other
    case ${path%%\?*} in *.js|*.mjs) kind=script ;; *.css) kind=style ;; *.wasm) kind=wasm ;; esac
    echo "$kind $path"
  done
}
# first_visit SERVER: a fresh server; what Chromium fetches for /notes signed in (the HTML's
# list when Chromium or the end-to-end tools are missing), each fetched with br, then gzip.
first_visit() {
  local server=$1 fn=${1//-/_} html="$WORK/page.html"
  "start_$fn"
  local cookie=(-H "Cookie: access_token=$ACCESS")
  curl -fs -H 'Accept-Encoding: identity' "${cookie[@]}" "http://127.0.0.1:$PORT/notes" >"$html"
  html_assets "$html" >"$WORK/html-assets.txt"
  HOW=browser
  if ! { [[ -d end2end/node_modules/playwright ]] && command -v "${CHROMIUM:-chromium}" >/dev/null &&
    node xtask/bench-first-visit.cjs "http://127.0.0.1:$PORT/notes" "access_token=$ACCESS" \
      >"$WORK/assets.txt" 2>"$WORK/browser.log"; }; then
    say "$server: no browser list ($(tail -1 "$WORK/browser.log" 2>/dev/null)); the HTML's list instead"
    HOW=html; cp "$WORK/html-assets.txt" "$WORK/assets.txt"
  fi
  if grep -q '^document ' "$WORK/assets.txt" && ! grep -q '^document /notes$' "$WORK/assets.txt"; then
    echo "$server: the browser was sent elsewhere: $(grep '^document ' "$WORK/assets.txt" | tr '\n' ' ')" >&2
  fi
  # Anything the HTML names that the browser did not fetch is said, not counted.
  while read -r kind path; do
    grep -q " $path\$" "$WORK/assets.txt" || say "$server: the HTML names $path ($kind) but the browser did not fetch it"
  done <"$WORK/html-assets.txt"
  for enc in br gzip; do
    asset "$server" document /notes "$enc" "${cookie[@]}"
    while read -r kind path; do
      [[ $kind == document ]] || asset "$server" "$kind" "$path" "$enc"
    done <"$WORK/assets.txt"
  done
  stop
}
if [[ $BYTES == 1 ]]; then
  for s in $SERVERS; do
    case "$s" in nuxt|sessionflow-sqlite) first_visit "$s" ;; esac
  done
fi

cp "$WORK/rows.tsv" "${BENCH_ROWS:-/dev/null}"
cut -c1-160 "$WORK/rows.tsv"
