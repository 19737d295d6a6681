#!/usr/bin/env bash
# Instructions per route lookup (10,000 rules over 1,000 hosts, exact
# hosts), counted by callgrind: a run that builds the table and does N
# lookups, minus a run that only builds it, divided by N.
#
#   benches/lookup-instructions.sh            # N=200000
#   N=50000 benches/lookup-instructions.sh
#
# Needs valgrind. The count does not depend on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
cargo bench --bench route_lookup --no-run 2>/dev/null
bin=$(ls -t target/release/deps/route_lookup-* | grep -v '\.d$' | head -1)
count() {
  ROUTE_LOOKUPS=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count 0)
with=$(count "$N")
echo "table built: $base instructions; with $N lookups: $with"
echo "instructions per lookup: $(( (with - base) / N ))"
