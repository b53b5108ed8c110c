#!/usr/bin/env bash
# Benchmarks for the host, printed as one table. Builds release binaries, a trivial C program
# that writes one frame (the floor for cold start), starts the test bed, and measures.
# Usage: bash bench/run.sh [runs]   (default 20 runs per figure; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${1:-20}
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q --locked -p cis-renew-host -p cis-renew-testbed --bins
BIN="$ROOT/target/release"
. scripts/lib/bed.sh

FLOOR=$(mktemp -d)/floor
cat > "$FLOOR.c" <<'C'
#include <stdint.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  const char *hello = "{\"type\":\"hello\",\"version\":\"0.0.0\",\"protocol\":1}";
  uint32_t n = (uint32_t)strlen(hello);
  fwrite(&n, 4, 1, stdout); fwrite(hello, 1, n, stdout); fflush(stdout);
  char buf[4]; fread(buf, 1, 4, stdin);  /* wait for EOF like a host would */
  return 0;
}
C
cc -O2 -o "$FLOOR" "$FLOOR.c"

bed_start 45
python3 bench/measure.py --runs "$RUNS" --host "$BIN/cis-renew-host" --floor "$FLOOR"
