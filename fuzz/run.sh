#!/usr/bin/env bash
# Builds every fuzz target (cargo-fuzz, libFuzzer, AddressSanitizer, debug
# assertions) and runs each for SECONDS seconds (default 30), starting from
# the committed seeds in fuzz/corpus/<target>/ plus what earlier runs on
# this machine found in fuzz/work/<target>/ (not committed).
#
#   fuzz/run.sh          # 30 s per target, as CI runs it
#   fuzz/run.sh 600      # ten minutes per target
#   fuzz/run.sh 60 chunked request_head   # only these targets
#
# Fails (exit 1) when any target crashes, panics, trips a sanitizer, takes
# longer than FUZZ_TIMEOUT seconds (default 10) on one input, or goes over
# the memory limit; the input that did it is in fuzz/artifacts/<target>/.
# Reproduce one with `cargo +nightly fuzz run --fuzz-dir fuzz <target> <file>`.
# FUZZ_TOOLCHAIN (default nightly) names the toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
toolchain=${FUZZ_TOOLCHAIN:-nightly}
timeout=${FUZZ_TIMEOUT:-10}
case $seconds in
  '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
  echo "fuzz: needs the $toolchain toolchain (rustup toolchain install $toolchain)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
fuzz() { cargo "+$toolchain" fuzz "$1" --fuzz-dir fuzz "${@:2}"; }

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "+$toolchain" fuzz list --fuzz-dir fuzz)
fi

start=$(date +%s)
fuzz build
echo "fuzz: built the targets in $(($(date +%s) - start)) s"

failed=()
for target in "${targets[@]}"; do
  seeds=fuzz/corpus/$target
  work=fuzz/work/$target
  mkdir -p "$work"
  case $target in
    chunked) dict=() ;;
    proxy_protocol) dict=(-dict=fuzz/proxy.dict) ;;
    *) dict=(-dict=fuzz/http.dict) ;;
  esac
  log=fuzz/work/$target.log
  echo "fuzz: $target for $seconds s (log: $log)"
  # New inputs go to the first directory, never to the committed seeds.
  if fuzz run "$target" "$work" "$seeds" -- \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
    -max_len=20000 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
  else
    cat "$log"
    failed+=("$target")
  fi
done

echo "fuzz: done in $(($(date +%s) - start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
