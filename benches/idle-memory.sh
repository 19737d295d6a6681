#!/usr/bin/env bash
# Resident memory per idle keep-alive connection: ringress (1 worker) with
# N idle connections, each after one request, plain HTTP and then HTTPS.
# Per connection = (VmRSS with N idle - VmRSS with none, after one warm-up
# request) / N. The origin is nginx (benches/nginx-origin.conf).
#
# Usage: benches/idle-memory.sh            # N=5000
#        N=1000 benches/idle-memory.sh
# Needs: target/release/ringress (cargo build --release), nginx, openssl,
# curl, python3.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N=${N:-5000}
RINGRESS=${RINGRESS:-$ROOT/target/release/ringress}
OUT=${OUT:-$(mktemp -d /tmp/ringress-idle.XXXXXX)}
mkdir -p "$OUT"
trap cleanup EXIT
ulimit -n $((2 * N + 1024))

[ -x "$RINGRESS" ] || die "$RINGRESS missing: cargo build --release"
make_cert
start_origin
PROXY_HTTP=$((BASE_PORT + 11))
PROXY_HTTPS=$((BASE_PORT + 15))
mkdir -p "$OUT/manifests"
render "$ROOT/benches/ringress-manifests.yaml" /dev/stdout |
    sed -e "s|@CERT_B64@|$(base64 -w0 "$OUT/cert.pem")|" \
        -e "s|@KEY_B64@|$(base64 -w0 "$OUT/key.pem")|" >"$OUT/manifests/bench.yaml"
extra=()
"$RINGRESS" run --help 2>/dev/null | grep -q -- --max-connections &&
    extra=(--max-connections $((2 * N + 100)))

# One fresh ringress per scheme: memory freed by the first would otherwise
# stay in the allocator's arenas and hide the second's cost.
for scheme in http https; do
    start_pinned "$PROXY_CPU" "ringress-$scheme" "$RINGRESS" run --manifests "$OUT/manifests" \
        --http "127.0.0.1:$PROXY_HTTP" --https "127.0.0.1:$PROXY_HTTPS" \
        --admin "127.0.0.1:$((BASE_PORT + 901))" --workers 1 --keepalive-timeout 600s "${extra[@]}"
    RINGRESS_PID=$PID
    wait_ready "http://127.0.0.1:$PROXY_HTTP/" || die "ringress did not answer"
    port=$PROXY_HTTP
    [ "$scheme" = https ] && port=$PROXY_HTTPS
    # Warm up: the first connections build session caches and pools.
    python3 "$ROOT/benches/idle_clients.py" "$scheme" "$port" 10 </dev/null >/dev/null
    before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$RINGRESS_PID/status")
    coproc CLIENTS { taskset -c "$LOAD_CPU" python3 "$ROOT/benches/idle_clients.py" "$scheme" "$port" "$N"; }
    read -r line <&"${CLIENTS[0]}" || die "$scheme clients failed"
    [ "$line" = ready ] || die "$scheme clients: $line"
    after=$(awk '/^VmRSS:/ { print $2 }' "/proc/$RINGRESS_PID/status")
    echo >&"${CLIENTS[1]}"
    wait "$CLIENTS_PID" || true
    kill "$RINGRESS_PID"
    wait "$RINGRESS_PID" 2>/dev/null || true
    per=$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN { printf "%.1f", (a - b) / n }')
    printf '%-5s %6d idle connections: RSS %d KiB -> %d KiB, %s KiB per connection\n' \
        "$scheme" "$N" "$before" "$after" "$per"
done
