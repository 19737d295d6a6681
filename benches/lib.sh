# Shared by e2e.sh and generator-check.sh: starting pinned servers, reading
# CPU time from /proc, measuring one case. Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOAD=${LOAD:-$ROOT/target/release/ringress-load}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
CONNECTIONS=${CONNECTIONS:-64}
BASE_PORT=${BASE_PORT:-23000}
ORIGIN_HTTP=$((BASE_PORT + 80))
ORIGIN_HTTPS=$((BASE_PORT + 443))
CLK_TCK=$(getconf CLK_TCK)
PIDS=()

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# CPU time (user + system) of a process and all its threads, in ticks.
# Fields after the ")" that closes the command name: utime is the 12th.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# Runs "$@" in the background pinned to CPUs $1, logs to $OUT/$2.log; sets PID.
start_pinned() {
    local cpus=$1 name=$2
    shift 2
    taskset -c "$cpus" "$@" >"$OUT/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}

# Waits for a 200 at URL (Host: bench.local, SNI bench.local), up to
# $2 tenths of a second (default 150: 15 s).
wait_ready() {
    local url=$1 i port=${1##*:}
    port=${port%%/*}
    for i in $(seq "${2:-150}"); do
        if [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 -H 'Host: bench.local' \
            --connect-to "bench.local:$port:127.0.0.1:$port" \
            "${url/127.0.0.1/bench.local}")" = 200 ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# A self-signed certificate for bench.local, shared by every server:
# ECDSA P-256 (CERT=ecdsa, the default) or RSA 2048 (CERT=rsa).
make_cert() {
    local -a key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    [ "${CERT:-ecdsa}" = rsa ] && key=(-newkey rsa:2048)
    openssl req -x509 "${key[@]}" -nodes -days 2 \
        -subj /CN=bench.local -addext subjectAltName=DNS:bench.local \
        -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
    cat "$OUT/cert.pem" "$OUT/key.pem" >"$OUT/bundle.pem"
}

# Fills the @…@ placeholders of a config template into $OUT.
render() {
    sed -e "s|@RUN@|$OUT|g" -e "s|@ORIGIN_HTTP@|$ORIGIN_HTTP|g" \
        -e "s|@ORIGIN_HTTPS@|$ORIGIN_HTTPS|g" -e "s|@PROXY_HTTP@|${PROXY_HTTP:-0}|g" \
        -e "s|@PROXY_HTTPS@|${PROXY_HTTPS:-0}|g" "$1" >"$2"
}

# The origin on $LOAD_CPU: nginx (ORIGIN=nginx, the default) or the bundled
# upstream (ORIGIN=ringress-load, HTTP only). Sets ORIGIN_PID.
start_origin() {
    mkdir -p "$OUT/tmp-origin"
    if [ "${ORIGIN:-nginx}" = nginx ]; then
        command -v nginx >/dev/null || die "nginx not installed (apt-get install nginx) or set ORIGIN=ringress-load"
        render "$ROOT/benches/nginx-origin.conf" "$OUT/nginx-origin.conf"
        start_pinned "$LOAD_CPU" origin nginx -p "$OUT" -c "$OUT/nginx-origin.conf"
    else
        start_pinned "$LOAD_CPU" origin "$LOAD" upstream --listen "127.0.0.1:$ORIGIN_HTTP" --threads 1
    fi
    ORIGIN_PID=$PID
    wait_ready "http://127.0.0.1:$ORIGIN_HTTP/" || die "origin did not start: $(tail -5 "$OUT/origin.log")"
}

# measure GENERATOR CASE PROTO ROUND URL TARGET_PID: one pinned run (wrk when
# GENERATOR is wrk, else ringress-load with $LOAD_ARGS added); appends
# a line to $OUT/results.tsv:
# generator case proto round rate p50_us p99_us requests errors target_cpu_s generator_cpu_s
measure() {
    local gen=$1 case=$2 proto=$3 round=$4 url=$5 target=$6
    local json="$OUT/$gen-$case-$proto-$round.json" t0 t1 g0 g1 gpid
    local -a extra=()
    [ "$proto" = https ] && extra=(--insecure --sni bench.local)
    if [ "$gen" = wrk ]; then
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
            -H 'Host: bench.local' "$url" >"$json.txt" 2>&1 &
    else
        taskset -c "$LOAD_CPU" "$LOAD" run "$url" -c "$CONNECTIONS" -t 1 -d "${DURATION}s" \
            -w "${WARMUP}s" -H 'Host: bench.local' -q --json "$json" "${extra[@]}" ${LOAD_ARGS:-} \
            >"$json.txt" 2>&1 &
    fi
    gpid=$!
    sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.1 }')"
    t0=$(cpu_ticks "$target"); g0=$(cpu_ticks "$gpid")
    # The last moment the generator is alive: its CPU time just before exit.
    g1=$g0
    while kill -0 "$gpid" 2>/dev/null; do
        g1=$(cpu_ticks "$gpid" 2>/dev/null || echo "$g1")
        sleep 0.2
    done
    wait "$gpid" || log "warning: $gen $case $proto exited with $?"
    t1=$(cpu_ticks "$target")
    python3 - "$gen" "$case" "$proto" "$round" "$json" "$(( t1 - t0 ))" "$(( g1 - g0 ))" "$CLK_TCK" >>"$OUT/results.tsv" <<'PY'
import json, re, sys
gen, case, proto, rnd, path, tticks, gticks, hz = sys.argv[1:]
hz = float(hz)
if gen == "wrk":
    text = open(path + ".txt").read()
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
    req = int(re.search(r"(\d+) requests in", text).group(1))
    def us(p):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, text, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    p50, p99 = us(50), us(99)
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    errs = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errs += sum(map(int, m.groups())) if m else 0
else:
    r = json.load(open(path))
    rate, req, errs = r["rate"], r["requests"], r["errors_total"]
    p50, p99 = r["latency_us"]["p50"], r["latency_us"]["p99"]
print("\t".join(map(str, [gen, case, proto, rnd, round(rate, 1), p50, p99, req, errs,
                          int(tticks) / hz, int(gticks) / hz])))
PY
}

# The table of medians from $OUT/results.tsv.
summarize() {
    python3 - "$OUT/results.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
groups = {}
for g, c, p, rnd, rate, p50, p99, req, errs, tcpu, gcpu in rows:
    groups.setdefault((p, c, g), []).append((float(rate), float(p50), float(p99), int(req), int(errs), float(tcpu), float(gcpu)))
med = lambda xs: statistics.median(xs)
def fmt_ms(us): return "%.2f ms" % (us / 1000)
print("| proto | case | generator | rounds | req/s median (min–max) | p50 | p99 | errors | req per CPU-s of target | generator CPU | generator µs/req | / direct | / nginx |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (p, c, g), v in sorted(groups.items(), key=lambda kv: (kv[0][0], list(dict.fromkeys(r[1] for r in rows)).index(kv[0][1]), kv[0][2])):
    rates = [x[0] for x in v]
    rate = med(rates)
    def ratio(other):
        o = groups.get((p, other, g))
        return "%.2f" % (rate / med([x[0] for x in o])) if o and other != c else "—"
    per_cpu = med([x[3] / x[5] for x in v if x[5] > 0]) if any(x[5] > 0 for x in v) else 0
    window = [x[3] / x[0] if x[0] else 0 for x in v]
    gcpu = med([x[6] / w for x, w in zip(v, window) if w > 0]) if any(window) else 0
    gus = med([x[6] / x[3] * 1e6 for x in v if x[3] > 0]) if any(x[3] > 0 for x in v) else 0
    print("| %s | %s | %s | %d | %s (%s–%s) | %s | %s | %d | %s | %.0f%% | %.1f | %s | %s |" % (
        p, c, g, len(v), "{:,.0f}".format(rate), "{:,.0f}".format(min(rates)), "{:,.0f}".format(max(rates)),
        fmt_ms(med([x[1] for x in v])), fmt_ms(med([x[2] for x in v])), sum(x[4] for x in v),
        "{:,.0f}".format(per_cpu), 100 * gcpu, gus, ratio("direct"), ratio("nginx")))
PY
}
