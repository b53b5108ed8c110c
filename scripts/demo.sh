#!/usr/bin/env bash
# The demo: sets everything up on a fresh machine, starts the test bed (a private pcscd with two
# virtual readers, the sponsor's card in reader 1 and a user's card due for renewal in reader 2,
# both SoftHSM tokens with certificates from a test CA), and shows the card status as the host
# reports it. Needs root. Everything it makes lives in one temp dir, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
echo "demo: building"
cargo build -p cis-renew-host -p cis-renew-testbed --bins --locked -q
BIN="$ROOT/target/debug"
. scripts/lib/bed.sh

echo "demo: starting the test bed: two virtual readers, the sponsor's card in reader 1, a user's card due in reader 2"
bed_start 45
echo "demo: the host's view of the cards"
echo
"$BIN/cis-renew-host" status
