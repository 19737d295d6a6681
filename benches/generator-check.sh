#!/usr/bin/env bash
# Is the generator ever the bottleneck? Drives the same two targets with
# ringress-load and with wrk, interleaved, in the arrangement of e2e.sh:
#   direct: the nginx origin pinned to CPU 0, the generator on CPU 1;
#   nginx:  nginx as proxy on CPU 0, origin and generator on CPU 1.
# Both generators: 1 thread, 64 keep-alive connections, no warmup (wrk has
# none), DURATION seconds, ROUNDS rounds.
#
# GENERATORS="ringress-load ringress-load-io-uring wrk" adds ringress-load on
# io_uring (its `run` uses epoll by default; ringress-load-epoll names that
# explicitly).
#
# Usage: benches/generator-check.sh            # ROUNDS=3 DURATION=8
#        ROUNDS=1 DURATION=3 benches/generator-check.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=0
PROTOCOLS=${PROTOCOLS:-http}
OUT=${OUT:-$(mktemp -d /tmp/ringress-gen.XXXXXX)}
mkdir -p "$OUT"
trap cleanup EXIT
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk)"
[ -x "$LOAD" ] || die "$LOAD missing: cargo build --release -p ringress-loadtest"

make_cert
start_origin
PROXY_HTTP=$((BASE_PORT + 1))
PROXY_HTTPS=$((BASE_PORT + 5))
mkdir -p "$OUT/tmp-proxy"
render "$ROOT/benches/nginx-proxy.conf" "$OUT/nginx-proxy.conf"
start_pinned "$PROXY_CPU" nginx nginx -p "$OUT" -c "$OUT/nginx-proxy.conf"
NGINX_PID=$PID
wait_ready "http://127.0.0.1:$PROXY_HTTP/" || die "nginx proxy did not start"

for round in $(seq "$ROUNDS"); do
    for proto in $PROTOCOLS; do
        for gen in ${GENERATORS:-ringress-load wrk}; do
            LOAD_ARGS=
            [ "$gen" = ringress-load-epoll ] && LOAD_ARGS="--io-engine epoll"
            [ "$gen" = ringress-load-io-uring ] && LOAD_ARGS="--io-engine io-uring"
            if [ "$proto" = https ]; then o=$ORIGIN_HTTPS p=$PROXY_HTTPS; else o=$ORIGIN_HTTP p=$PROXY_HTTP; fi
            taskset -a -p -c "$PROXY_CPU" "$ORIGIN_PID" >/dev/null
            log "round $round $proto $gen direct"
            measure "$gen" direct "$proto" "$round" "$proto://127.0.0.1:$o/" "$ORIGIN_PID"
            taskset -a -p -c "$LOAD_CPU" "$ORIGIN_PID" >/dev/null
            log "round $round $proto $gen nginx"
            measure "$gen" nginx "$proto" "$round" "$proto://127.0.0.1:$p/" "$NGINX_PID"
        done
    done
done
echo
echo "generator check, $(date -u +%Y-%m-%dT%H:%MZ), ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS, $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
summarize
