#!/usr/bin/env bash
# Runs every fuzz target for a set time and prints executions and findings per target.
# Usage: bash fuzz/run.sh [seconds per target, default 180] [target ...]
# The committed seeds are in fuzz/seeds/<target>; the growing corpus goes to fuzz/corpus/<target>
# (not committed) and crashes to fuzz/artifacts/<target>. cargo-fuzz needs nightly features; the
# stable toolchain provides them with RUSTC_BOOTSTRAP=1 (no other toolchain can be fetched here).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-180}
shift || true
export PATH="$HOME/.cargo/bin:$PATH" RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(cargo fuzz list)

printf '%-16s %12s %10s %9s %s\n' target executions exec/s corpus findings
status=0
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log=$(mktemp)
  if cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -rss_limit_mb=2048 >"$log" 2>&1; then
    result=none
  else
    result="CRASH: $(ls "artifacts/$target" | head -3 | tr '\n' ' ')"
    status=1
  fi
  runs=$(grep -oP 'stat::number_of_executed_units:\s*\K\d+' "$log" | tail -1)
  rate=$(grep -oP 'stat::average_exec_per_sec:\s*\K\d+' "$log" | tail -1)
  corpus=$(ls "corpus/$target" | wc -l)
  printf '%-16s %12s %10s %9s %s\n' "$target" "${runs:-?}" "${rate:-?}" "$corpus" "$result"
  [ "$result" = none ] || tail -40 "$log"
  rm -f "$log"
done
exit $status
