#!/usr/bin/env bash
# The time of POST /api/auth/password/forgot for a known and for an unknown address, interleaved,
# 200 each, against a freshly started server (SERVER, default target/debug/server; mail to a
# closed port, limits raised so that nothing answers 429). Prints the median, p10 and p90 of each.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(mktemp -d)
PORT=3300
LEPTOS_SITE_ADDR=127.0.0.1:$PORT LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg LEPTOS_OUTPUT_NAME=app \
DATABASE_URL="sqlite://$DIR/m.db?mode=rwc" JWT_SECRET=measure-secret-0123456789abcdef0123456789 \
SMTP_URL=smtp://127.0.0.1:1 RECOVERY_RATE_LIMIT_PER_EMAIL=100000/1m AUTH_RATE_LIMIT_PER_ADDRESS=100000/1m \
RUST_LOG=error ${SERVER:-target/debug/server} > $DIR/log 2>&1 &
PID=$!
trap 'kill $PID' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{"email":"known@example.com","password":"correct horse battery"}' http://127.0.0.1:$PORT/api/auth/register
: > $DIR/known; : > $DIR/unknown
for i in $(seq 200); do
  for who in known unknown; do
    curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'content-type: application/json' \
      -d "{\"email\":\"$who@example.com\"}" http://127.0.0.1:$PORT/api/auth/password/forgot >> $DIR/$who
  done
done
for who in known unknown; do
  sort -n $DIR/$who | awk -v w=$who '{a[NR]=$1} END {printf "%s: n=%d median=%.3f ms p10=%.3f ms p90=%.3f ms\n", w, NR, a[int(NR/2)]*1000, a[int(NR*0.1)]*1000, a[int(NR*0.9)]*1000}'
done
