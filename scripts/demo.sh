#!/usr/bin/env bash
# The demo: sets everything up on a fresh machine (apt, cargo, npm), starts the test bed (a
# private pcscd with two virtual readers, the sponsor's card in reader 1 and a user's card due in
# 45 days in reader 2, SoftHSM tokens with certificates from the stand-in's CA), starts the
# stand-in CIS dashboard, and drives the whole renewal in Chromium with the real extension and
# host, printing each step and the certificates before and after. Needs root.
# Usage: scripts/demo.sh [--card softhsm|piv]   (piv: a PIV card, renewed through the stand-in's
# card-management API: the management key never leaves the service)
set -euo pipefail
CARD=softhsm
while [ $# -gt 0 ]; do
  case "$1" in
    --card) CARD=${2:?--card needs softhsm or piv}; shift 2 ;;
    --card=*) CARD=${1#--card=}; shift ;;
    *) echo "demo: unknown argument $1 (usage: scripts/demo.sh [--card softhsm|piv])" >&2; exit 2 ;;
  esac
done
case "$CARD" in softhsm|piv) ;; *) echo "demo: --card is softhsm or piv, not $CARD" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh demo
export PATH="$HOME/.cargo/bin:$PATH"
echo "demo: building"
cargo build --workspace --bins --locked -q
if [ "$CARD" = piv ]; then
  # The PIV test card: its own workspace and target folder (tests/testbed/piv-card/README.md).
  cargo build --manifest-path tests/testbed/piv-card/Cargo.toml --target-dir target/piv-card --locked -q
fi
cd tests/e2e
exec node demo.mjs --card "$CARD"
