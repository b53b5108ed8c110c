#!/usr/bin/env bash
# The demo: sets everything up on a fresh machine (apt, cargo, npm), starts the test bed (a
# private pcscd with two virtual readers, the sponsor's card in reader 1 and a user's card due in
# 45 days in reader 2, SoftHSM tokens with certificates from the stand-in's CA), starts the
# stand-in CIS dashboard, and drives the whole renewal in Chromium with the real extension and
# host, printing each step and the certificates before and after. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh demo
export PATH="$HOME/.cargo/bin:$PATH"
echo "demo: building"
cargo build --workspace --bins --locked -q
cd tests/e2e
exec node demo.mjs
