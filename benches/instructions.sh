#!/usr/bin/env bash
# The instruction gate: user-space instructions per proxied keep-alive
# request, counted by callgrind, against the committed baseline
# (benches/instructions/baseline.tsv). See docs/benchmarks.md.
#
#   benches/instructions.sh               # measure, compare, exit 1 over the threshold
#   benches/instructions.sh --update      # measure and rewrite the baseline
#   benches/instructions.sh --selftest    # build with a deliberate regression; the gate must fail
#   benches/instructions.sh --runs 5      # runs per case (default 3)
#
# Method: one ringress worker on the epoll engine, under
# `valgrind --tool=callgrind`, counting only the worker thread (collection
# toggled on inside monoio's `block_on`, which only workers run) and only
# from the connection's start (`Conn::new`, where callgrind dumps and
# zeroes what start-up cost: its length varies with the machine).
# benches/keepalive_client.py sends N requests over one keep-alive
# connection, plain HTTP or HTTPS (TLS 1.3, ECDSA P-256), one at a time,
# to the bundled origin (`ringress-load upstream`, not counted). A run with
# N=220 minus a run with N=20, over 200, is the cost of one request: start
# up, the TLS handshake, the first request's upstream connect and shut
# down are in both runs and cancel out.
#
# Environment: PROFILE (cargo profile of the measured build, default dev:
# the build `cargo test` already made, so CI pays no second build; release
# for figures of the build that ships, against its own baseline
# benches/instructions/baseline-release.tsv, not committed), BASELINE (the
# file), THRESHOLD (percent, default 3), CASES (default "http https"),
# KEEP=1 keeps the work directory.
#
# Exit codes: 0 within the threshold, 1 a case over it (or, with
# --selftest, a gate that did not catch the regression), 2 a setup failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PROFILE=${PROFILE:-dev}
THRESHOLD=${THRESHOLD:-3}
CASES=${CASES:-http https}
N_SHORT=20
# The client pauses before each request and the origin before each answer,
# so that ringress always waits on the socket when bytes arrive (see
# keepalive_client.py): a race there changes the count by thousands.
PAUSE_MS=${PAUSE_MS:-10}
ORIGIN_DELAY_MS=${ORIGIN_DELAY_MS:-5}
N_LONG=220
RUNS=3
MODE=gate
# The committed baseline is of the dev profile (what CI gates); another
# profile's is kept beside it, uncommitted, for before/after work.
if [ "$PROFILE" = dev ]; then
    BASELINE=${BASELINE:-$ROOT/benches/instructions/baseline.tsv}
else
    BASELINE=${BASELINE:-$ROOT/benches/instructions/baseline-$PROFILE.tsv}
fi
REGRESSION_FEATURE=instruction-gate-regression

while [ $# -gt 0 ]; do
    case $1 in
    --update) MODE=update ;;
    --selftest) MODE=selftest ;;
    --runs) RUNS=$2; shift ;;
    --runs=*) RUNS=${1#--runs=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$MODE" = selftest ] && [ "$RUNS" = 3 ] && RUNS=1

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

for tool in valgrind curl openssl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

OUT=$(mktemp -d "${TMPDIR:-/tmp}/instruction-gate.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then log "work directory kept: $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

TARGET=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
profile_dir() { if [ "$1" = dev ]; then echo debug; else echo "$1"; fi; }

# build FEATURES DEST: the ringress binary of $PROFILE with FEATURES, copied
# to DEST (a build with other features replaces the one in the target dir).
build() {
    local -a features=()
    [ -n "$1" ] && features=(--features "$1")
    log "building ringress (profile $PROFILE${1:+, feature $1})"
    cargo build -q --profile "$PROFILE" -p ringress --bin ringress "${features[@]}"
    cp "$TARGET/$(profile_dir "$PROFILE")/ringress" "$2"
}

# The origin (not counted), built with the same profile: it shares most of
# ringress's dependencies.
log "building ringress-load (profile $PROFILE)"
cargo build -q --profile "$PROFILE" -p ringress-loadtest --bin ringress-load
LOAD=$TARGET/$(profile_dir "$PROFILE")/ringress-load

if [ "$MODE" = selftest ]; then
    build "$REGRESSION_FEATURE" "$OUT/ringress"
else
    build "" "$OUT/ringress"
fi

# A certificate for bench.local, the origin, and the manifests of
# benches/ringress-manifests.yaml pointing at it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=bench.local -addext subjectAltName=DNS:bench.local \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
"$LOAD" upstream --listen 127.0.0.1:0 --threads 1 --no-pin --delay "${ORIGIN_DELAY_MS}ms" >"$OUT/origin.log" 2>&1 &
PIDS+=($!)
origin=
for _ in $(seq 100); do
    origin=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$OUT/origin.log")
    [ -n "$origin" ] && break
    sleep 0.1
done
[ -n "$origin" ] || die "origin did not start: $(cat "$OUT/origin.log")"
mkdir -p "$OUT/manifests"
sed -e "s|@ORIGIN_HTTP@|${origin##*:}|g" \
    -e "s|@CERT_B64@|$(base64 -w0 "$OUT/cert.pem")|" \
    -e "s|@KEY_B64@|$(base64 -w0 "$OUT/key.pem")|" \
    "$ROOT/benches/ringress-manifests.yaml" >"$OUT/manifests/bench.yaml"

# count CASE N: instructions of the worker thread of one ringress that
# served N keep-alive requests of CASE (http or https) on one connection.
count() {
    local case=$1 n=$2 tag="$1-$2-$RANDOM" pid addr admin i
    local log="$OUT/$tag.log"
    # A failure here is in a subshell: stop this ringress before leaving.
    fail() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; die "$@"; }
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.out" \
        --collect-atstart=no --toggle-collect='monoio::runtime::Runtime*::block_on*' \
        --dump-before='ringress::conn::Conn::new' \
        "$OUT/ringress" run --manifests "$OUT/manifests" \
        --http 127.0.0.1:0 --https 127.0.0.1:0 --admin 127.0.0.1:0 --health 127.0.0.1:0 \
        --workers 1 --io-engine epoll --no-pin --shutdown-delay 0 --keepalive-requests 0 \
        >"$log" 2>&1 </dev/null &
    pid=$!
    local line=
    for i in $(seq 600); do
        line=$(grep -m1 'ringress running' "$log" || true)
        [ -n "$line" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$line" ] || fail "ringress did not start: $(tail -5 "$log")"
    addr=$(sed -n "s/.* $case=\([0-9.:]*\).*/\1/p" <<<"$line")
    admin=$(sed -n 's/.* admin=\([0-9.:]*\).*/\1/p' <<<"$line")
    # Ready once the worker holds the table (the admin thread answers; it
    # is not counted).
    for i in $(seq 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$admin/readyz")" = 200 ] && break
        sleep 0.1
    done
    python3 "$ROOT/benches/keepalive_client.py" "$case" "${addr##*:}" "$n" "$PAUSE_MS" \
        "$OUT/cert.pem" 2>"$OUT/$tag.client" ||
        fail "client failed on $case ($n requests): $(cat "$OUT/$tag.client")"
    kill -TERM "$pid"
    wait "$pid" || die "ringress exited with $? (log: $log)"
    # Two parts: start-up until the connection (dumped at `Conn::new`, so
    # its varying length is left out), then the connection to the exit.
    [ -f "$OUT/$tag.out.1" ] && [ ! -e "$OUT/$tag.out.2" ] ||
        die "expected one callgrind dump at Conn::new (one connection): $(ls "$OUT/$tag".out*)"
    local total
    total=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$OUT/$tag.out")
    [ -n "$total" ] && [ "$total" -gt 0 ] || die "no instructions collected (toggle function missing?)"
    echo "$total"
}

# One figure per case and run: (I(220) - I(20)) / 200. The cases run side
# by side (one process each; the counts do not depend on the CPU share).
measure_case() {
    local case=$1 run short long per
    for run in $(seq "$RUNS"); do
        short=$(count "$case" "$N_SHORT")
        long=$(count "$case" "$N_LONG")
        per=$(python3 -c "print(round(($long - $short) / ($N_LONG - $N_SHORT)))")
        log "run $run/$RUNS $case: $per instructions per request ($short at $N_SHORT, $long at $N_LONG)"
        printf '%s\t%s\n' "$case" "$per" >>"$OUT/runs-$case.tsv"
    done
}
jobs=()
for case in $CASES; do
    measure_case "$case" &
    jobs+=($!)
done
for job in "${jobs[@]}"; do wait "$job" || exit 2; done
for case in $CASES; do cat "$OUT/runs-$case.tsv"; done >"$OUT/runs.tsv"

toolchain="$(rustc -V | cut -d' ' -f1-2), profile $PROFILE, $(valgrind --version)"

if [ "$MODE" = update ]; then
    python3 - "$OUT/runs.tsv" "$BASELINE" "$toolchain" "$RUNS" <<'PY'
import statistics, sys, datetime
rows, path, toolchain, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
per = {}
for line in open(rows):
    case, value = line.split()
    per.setdefault(case, []).append(int(value))
with open(path, "w") as f:
    f.write("# Instructions per keep-alive request through one ringress worker (epoll),\n")
    f.write("# callgrind, the worker thread from the connection's start to the exit,\n")
    f.write("# (I(220)-I(20))/200, median of %s runs.\n" % runs)
    f.write("# Taken %s with %s\n" % (datetime.date.today().isoformat(), toolchain))
    f.write("# Runs min-max: %s\n" % ", ".join("%s %d-%d" % (c, min(v), max(v)) for c, v in per.items()))
    f.write("# by: benches/instructions.sh --update\n")
    f.write("case\tinstructions_per_request\n")
    for case, values in per.items():
        f.write("%s\t%d\n" % (case, statistics.median(values)))
PY
    log "baseline written: ${BASELINE#"$ROOT"/}"
    cat "$BASELINE"
    exit 0
fi

[ -f "$BASELINE" ] || die "no baseline (${BASELINE#"$ROOT"/}): run benches/instructions.sh --update"
python3 - "$OUT/runs.tsv" "$BASELINE" "$THRESHOLD" "$toolchain" "$MODE" "$REGRESSION_FEATURE" <<'PY'
import statistics, sys
rows, path, threshold, toolchain, mode, feature = sys.argv[1:]
threshold = float(threshold)
per = {}
for line in open(rows):
    case, value = line.split()
    per.setdefault(case, []).append(int(value))
base, taken = {}, ""
for line in open(path):
    if line.startswith("# Taken"):
        taken = line[len("# Taken "):].strip()
    if line.startswith("#") or line.startswith("case\t") or not line.strip():
        continue
    case, value = line.split()
    base[case] = int(value)
print("| case | baseline | now (median) | runs min-max | spread | ratio |")
print("|---|---|---|---|---|---|")
over, missing = [], []
for case, values in per.items():
    now = statistics.median(values)
    spread = (max(values) - min(values)) / now * 100
    if case not in base:
        print("| %s | — | %d | %d-%d | %.2f%% | — |" % (case, now, min(values), max(values), spread))
        missing.append(case)
        continue
    ratio = now / base[case]
    print("| %s | %d | %d | %d-%d | %.2f%% | %.3f |" % (case, base[case], now, min(values), max(values), spread, ratio))
    if ratio > 1 + threshold / 100:
        over.append("%s +%.1f%%" % (case, (ratio - 1) * 100))
    if spread >= 1:
        print("warning: %s: runs spread by %.2f%%, the count is not repeatable" % (case, spread))
if ", profile " in taken and ("profile " + toolchain.split("profile ")[1].split(",")[0] + ",") not in taken:
    print("FAIL: the baseline is of another profile (%s); now %s" % (taken, toolchain))
    sys.exit(2)
if toolchain not in taken:
    print("note: baseline taken %s; now %s" % (taken, toolchain))
if missing:
    print("FAIL: not in the baseline: %s (benches/instructions.sh --update)" % ", ".join(missing))
    sys.exit(1)
if mode == "selftest":
    # Every case must be caught: the regression is on every request.
    if len(over) == len(per):
        print("selftest ok: the gate caught the deliberate regression (feature %s): %s" % (feature, ", ".join(over)))
        sys.exit(0)
    print("selftest FAILED: a build with %s passed the gate in some case" % feature)
    sys.exit(1)
if over:
    print("FAIL: over the %g%% threshold: %s" % (threshold, ", ".join(over)))
    sys.exit(1)
print("ok: every case within %g%% of the baseline" % threshold)
PY
