#!/usr/bin/env bash
# Is the bundled upstream a fast origin? Measures `ringress-load upstream`
# (1 thread; io_uring, then epoll) and the nginx origin (1 worker) side by side, each pinned to
# CPU 0 with the generator on CPU 1, interleaved; the figure to read is
# requests per CPU-second of the origin.
#
# Usage: benches/origin-check.sh              # ROUNDS=3 DURATION=8
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-1}
OUT=${OUT:-$(mktemp -d /tmp/ringress-origin.XXXXXX)}
mkdir -p "$OUT"
trap cleanup EXIT
[ -x "$LOAD" ] || die "$LOAD missing: cargo build --release -p ringress-loadtest"

make_cert
ORIGIN=nginx start_origin
NGINX_PID=$ORIGIN_PID
UP_PORT=$((BASE_PORT + 1))
start_pinned "$PROXY_CPU" upstream "$LOAD" upstream --listen "127.0.0.1:$UP_PORT" --threads 1
UP_PID=$PID
wait_ready "http://127.0.0.1:$UP_PORT/" || die "upstream did not start"
EP_PORT=$((BASE_PORT + 2))
start_pinned "$PROXY_CPU" upstream-epoll "$LOAD" upstream --listen "127.0.0.1:$EP_PORT" --threads 1 --io-engine epoll
EP_PID=$PID
wait_ready "http://127.0.0.1:$EP_PORT/" || die "upstream (epoll) did not start"

for round in $(seq "$ROUNDS"); do
    taskset -a -p -c "$PROXY_CPU" "$NGINX_PID" >/dev/null
    log "round $round nginx"
    measure ringress-load nginx-origin http "$round" "http://127.0.0.1:$ORIGIN_HTTP/" "$NGINX_PID"
    taskset -a -p -c "$LOAD_CPU" "$NGINX_PID" >/dev/null
    log "round $round ringress-load upstream"
    measure ringress-load upstream http "$round" "http://127.0.0.1:$UP_PORT/" "$UP_PID"
    log "round $round ringress-load upstream --io-engine epoll"
    measure ringress-load upstream-epoll http "$round" "http://127.0.0.1:$EP_PORT/" "$EP_PID"
done
echo
echo "origin check, $(date -u +%Y-%m-%dT%H:%MZ), ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS"
summarize
