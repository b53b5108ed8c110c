#!/usr/bin/env bash
# Benchmarks for the host, printed as one table, all measured in this run:
# - cold start to the hello frame vs a trivial C program that writes one frame (the floor);
# - status with a card in the managed reader, and with no pcscd; peak RSS of each; binary size;
# - a whole renewal on SoftHSM vs the raw PKCS#11 calls it needs (tokens on /dev/shm, then on
#   disk where SoftHSM fsyncs every object);
# - frame encode/decode throughput for 1 KiB and 1 MiB messages;
# - on OpenSC with the virtual SmartCard-HSM: APDUs and PKCS#11 calls per status and renewal.
# - a PIV card's status and renewal: APDUs against the fewest SP 800-73-4 allows, and the
#   host's wall time minus the card's own time.
# Usage: bash bench/run.sh [runs]   (default 20; medians). Needs root (the test bed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${1:-20}
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q --locked -p cis-renew-host -p cis-renew-testbed --bins
cargo build -q --locked -p cis-renew-testbed --bins
export CIS_TESTBED_BIN="$ROOT/target/debug/cis-testbed"
BIN="$ROOT/target/release"
ROWS=$(mktemp)

echo "bench: frames" >&2
cargo bench -q --locked -p cis-renew-host --bench frames 2>/dev/null | grep '^ROW' >> "$ROWS"
echo "bench: renewal, tokens on /dev/shm" >&2
cargo bench -q --locked -p cis-renew-host --bench renewal -- "$RUNS" 2>/dev/null | grep '^ROW' >> "$ROWS"
echo "bench: renewal, tokens on disk" >&2
BENCH_TOKENS_ON_DISK=1 cargo bench -q --locked -p cis-renew-host --bench renewal -- "$RUNS" 2>/dev/null | grep '^ROW' >> "$ROWS"
# Counted, not timed (the same on any machine): APDUs and PKCS#11 calls on OpenSC with the
# virtual SmartCard-HSM, beside the fewest its command set allows; and a renewal's wall time
# minus the time in the card, with a 2 s key generation.
echo "bench: OpenSC + SmartCard-HSM, counted" >&2
cargo test -q --locked -p cis-renew-host --test integration opensc::counted -- --nocapture 2>/dev/null \
  | grep '^ROW' >> "$ROWS"
echo "bench: PIV card (APDUs against the SP 800-73-4 floor, host time minus card time)" >&2
cargo build -q --locked --manifest-path tests/testbed/piv-card/Cargo.toml --target-dir target/piv-card
cargo bench -q --locked -p cis-renew-host --bench piv -- "$RUNS" 2>/dev/null | grep '^ROW' >> "$ROWS"

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
echo "bench: start-up and status" >&2
bed_start 45
python3 bench/measure.py --runs "$RUNS" --host "$BIN/cis-renew-host" --floor "$FLOOR" --rows "$ROWS"
