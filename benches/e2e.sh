#!/usr/bin/env bash
# End-to-end benchmark of ringress against its peers, in one run:
#   direct to the origin, ringress with 1 and 2 workers, nginx and HAProxy
#   (when installed), over HTTP and HTTPS (TLS terminated by the proxy),
#   several interleaved rounds (A B C … A B C …), then a table of medians
#   with each case's ratio to direct and to nginx.
#
# Arrangement (docs/benchmarks.md): the proxy under test pinned to CPU 0;
# the generator (ringress-load, 1 thread, 64 keep-alive connections) and the
# origin (nginx, 1 worker, 12-byte body) pinned to CPU 1; for "direct" the
# origin moves to CPU 0. ringress with 2 workers runs on CPUs 0-1. CPU time
# of the target comes from /proc/PID/stat: "req per CPU-s" is the figure
# that survives a noisy machine best.
#
# Usage: benches/e2e.sh                       # ROUNDS=3 DURATION=8
#        ROUNDS=1 DURATION=3 benches/e2e.sh   # quick smoke run
# Knobs: ROUNDS DURATION WARMUP CONNECTIONS CASES PROTOCOLS ORIGIN BASE_PORT
#        PROXY_CPU LOAD_CPU LOAD LOAD_ARGS RINGRESS OUT CERT (ecdsa|rsa)
# Before/after in one run: BASELINE=path/to/older/ringress \
#        CASES="baseline-1 ringress-1 nginx" benches/e2e.sh
# Handshakes: PROTOCOLS=https LOAD_ARGS="-H Connection:close --no-tls-resume"
# Needs: target/release/ringress-load and target/release/ringress
# (cargo build --release), nginx, openssl, curl, python3; HAProxy optional.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-1}
PROTOCOLS=${PROTOCOLS:-http https}
CASES=${CASES:-direct ringress-1 ringress-2 nginx haproxy}
RINGRESS=${RINGRESS:-$ROOT/target/release/ringress}
OUT=${OUT:-$(mktemp -d /tmp/ringress-e2e.XXXXXX)}
mkdir -p "$OUT"
trap cleanup EXIT

[ -x "$LOAD" ] || die "$LOAD missing: cargo build --release -p ringress-loadtest"
for p in "$ORIGIN_HTTP" "$ORIGIN_HTTPS" $(seq $((BASE_PORT + 1)) $((BASE_PORT + 10))) \
    $(seq $((BASE_PORT + 901)) $((BASE_PORT + 902))) $(seq $((BASE_PORT + 911)) $((BASE_PORT + 912))); do
    port_free "$p" || die "port $p is in use; set BASE_PORT"
done
make_cert
start_origin

declare -A HTTP_PORT HTTPS_PORT TARGET_PID
HTTP_PORT[direct]=$ORIGIN_HTTP
HTTPS_PORT[direct]=$ORIGIN_HTTPS
TARGET_PID[direct]=$ORIGIN_PID
[ "${ORIGIN:-nginx}" = nginx ] || HTTPS_PORT[direct]=

# start_case NAME: starts the proxy for a case, or drops the case.
start_case() {
    local name=$1
    PROXY_HTTP=$((BASE_PORT + ${#TARGET_PID[@]} + 1))
    PROXY_HTTPS=$((PROXY_HTTP + 4))
    case $name in
    nginx)
        command -v nginx >/dev/null || { log "nginx not installed: skipping"; return 1; }
        mkdir -p "$OUT/tmp-proxy"
        render "$ROOT/benches/nginx-proxy.conf" "$OUT/nginx-proxy.conf"
        start_pinned "$PROXY_CPU" nginx nginx -p "$OUT" -c "$OUT/nginx-proxy.conf"
        ;;
    haproxy)
        command -v haproxy >/dev/null || { log "haproxy not installed: skipping"; return 1; }
        render "$ROOT/benches/haproxy.cfg" "$OUT/haproxy.cfg"
        start_pinned "$PROXY_CPU" haproxy haproxy -db -f "$OUT/haproxy.cfg"
        ;;
    ringress-* | baseline-*)
        # baseline-N: the same, with the binary $BASELINE (an older build,
        # for a before/after ratio measured in one run).
        local workers=${name#*-} cpus=$PROXY_CPU bin=$RINGRESS admin=$((BASE_PORT + 900 + ${name#*-}))
        if [ "${name%%-*}" = baseline ]; then
            bin=${BASELINE:-}
            admin=$((admin + 10))
        fi
        [ -x "$bin" ] || { log "${bin:-BASELINE} missing: skipping $name"; return 1; }
        [ "$workers" -gt 1 ] && cpus="$PROXY_CPU,$LOAD_CPU"
        mkdir -p "$OUT/manifests-$name"
        render "$ROOT/benches/ringress-manifests.yaml" /dev/stdout |
            sed -e "s|@CERT_B64@|$(base64 -w0 "$OUT/cert.pem")|" \
                -e "s|@KEY_B64@|$(base64 -w0 "$OUT/key.pem")|" >"$OUT/manifests-$name/bench.yaml"
        # Peers keep downstream connections open without a request limit.
        local -a extra=()
        "$bin" run --help 2>/dev/null | grep -q -- --keepalive-requests &&
            extra=(--keepalive-requests 0)
        start_pinned "$cpus" "$name" "$bin" run --manifests "$OUT/manifests-$name" \
            --http "127.0.0.1:$PROXY_HTTP" --https "127.0.0.1:$PROXY_HTTPS" \
            --admin "127.0.0.1:$admin" --workers "$workers" "${extra[@]}"
        ;;
    *) die "unknown case $name" ;;
    esac
    if ! wait_ready "http://127.0.0.1:$PROXY_HTTP/"; then
        log "$name did not answer 200 within 15 s: skipping; log: $(tail -3 "$OUT/$name.log" | tr '\n' ' ')"
        kill "$PID" 2>/dev/null || true
        return 1
    fi
    if ! wait_ready "https://127.0.0.1:$PROXY_HTTPS/" 50; then
        log "$name does not answer HTTPS: HTTP only"
        PROXY_HTTPS=
    fi
    HTTP_PORT[$name]=$PROXY_HTTP
    HTTPS_PORT[$name]=$PROXY_HTTPS
    TARGET_PID[$name]=$PID
}

ACTIVE=()
for c in $CASES; do
    if [ "$c" = direct ] || start_case "$c"; then ACTIVE+=("$c"); fi
done
log "cases: ${ACTIVE[*]}; protocols: $PROTOCOLS; $ROUNDS rounds of ${DURATION}s (+${WARMUP}s warmup); results in $OUT"

for round in $(seq "$ROUNDS"); do
    for proto in $PROTOCOLS; do
        for c in "${ACTIVE[@]}"; do
            if [ "$proto" = https ]; then port=${HTTPS_PORT[$c]}; else port=${HTTP_PORT[$c]}; fi
            [ -n "$port" ] || continue
            [ "$c" = direct ] && taskset -a -p -c "$PROXY_CPU" "$ORIGIN_PID" >/dev/null
            log "round $round/$ROUNDS $proto $c"
            measure ringress-load "$c" "$proto" "$round" "$proto://127.0.0.1:$port/" "${TARGET_PID[$c]}"
            [ "$c" = direct ] && taskset -a -p -c "$LOAD_CPU" "$ORIGIN_PID" >/dev/null
        done
    done
done

echo
echo "ringress e2e benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r)"
echo "ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS ORIGIN=${ORIGIN:-nginx}; $(nginx -v 2>&1 | cut -d' ' -f3-)$(command -v haproxy >/dev/null && echo ", HAProxy $(haproxy -v | head -1 | cut -d' ' -f3)")"
echo
summarize
