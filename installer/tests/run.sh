#!/usr/bin/env bash
# Every deployment test of issue 6, in one go (scripts/test.sh calls this):
#   1. cargo: deploy unit tests and host/tests/deploy (install/uninstall into temp roots,
#      committed manifests and docs table, doctor against a good and each broken install,
#      ADMX/ADML and example policies against extension/schema.json)
#   2. test-msi.sh    the MSI: msiinfo tables, then install/upgrade/downgrade/uninstall under wine
#   3. test-deb.sh    the .deb: install on this machine, Chromium finds the host, remove, purge
#   4. test-macos.sh  the macOS payload tree and postinstall
#   5. identity.test.mjs  the extension's identity (scripts/identity.mjs check: nothing but
#      generated files names an ID) and scripts/package-extension.sh (CRX3 checked with openssl)
# The force-install end-to-end test (tests/e2e/tests/forceinstall.test.mjs) runs with the e2e suite.
# Installs what is missing (scripts/install-deps.sh), needs root (dpkg -i, pcscd namespaces).
# Ends with "N passed, M failed"; exits non-zero when anything failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
started=$(date +%s)

need=(wine wineserver wixl msiinfo msibuild x86_64-w64-mingw32-gcc chromium dpkg-deb pcscd softhsm2-util vicc python3)
missing=()
for tool in "${need[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: missing ${missing[*]}: running scripts/install-deps.sh"
  scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
fi
rustup target list --installed 2>/dev/null | grep -q x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu

export RESULTS
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

# cargo's own summary lines ("test result: ok. N passed; M failed") are added to the totals.
cargo_suite() {
  local name=$1 log
  shift
  echo "== $name"
  log=$(mktemp)
  if ! cargo "$@" 2>&1 | tee "$log" | grep -E '^test |^test result|panicked|^error' ; then :; fi
  local passed failed
  passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($i ~ /^passed/) s += $(i - 1)} END {print s + 0}' "$log")
  failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($i ~ /^failed/) s += $(i - 1)} END {print s + 0}' "$log")
  # A build failure runs no test: count it as one failure, never as nothing.
  if ! grep -q '^test result:' "$log"; then failed=$((failed + 1)); fi
  echo "$passed $failed" >>"$RESULTS"
  rm -f "$log"
}

# node's summary lines ("# pass N", "# fail M") are added to the totals.
node_suite() {
  local name=$1 log t
  shift
  echo "== $name"
  t=$(date +%s)
  log=$(mktemp)
  node --test "$@" 2>&1 | tee "$log" | grep -E '^(not )?ok |^# (pass|fail)'
  local passed failed
  passed=$(awk '/^# pass/ {print $3}' "$log")
  failed=$(awk '/^# fail/ {print $3}' "$log")
  [ -n "$passed" ] || failed=$((${failed:-0} + 1))
  echo "${passed:-0} ${failed:-0}" >>"$RESULTS"
  echo "   $name took $(($(date +%s) - t)) s"
  rm -f "$log"
}

node_suite "node: identity and extension packages" installer/tests/identity.test.mjs
cargo build --quiet -p cis-renew-testbed --bin cis-testbed
# The doctor tests put the PIV test card in a reader (its own target folder, as scripts/test.sh).
cargo build --quiet --manifest-path tests/testbed/piv-card/Cargo.toml --target-dir target/piv-card
cargo_suite "cargo: deploy unit tests" test -p cis-renew-host --lib -- deploy::
cargo_suite "cargo: host/tests/deploy" test -p cis-renew-host --test deploy

for script in test-msi.sh test-deb.sh test-macos.sh; do
  t=$(date +%s)
  echo "== installer/tests/$script"
  if ! installer/tests/$script; then :; fi
  echo "   $script took $(($(date +%s) - t)) s"
done

passed=$(awk '{s += $1} END {print s + 0}' "$RESULTS")
failed=$(awk '{s += $2} END {print s + 0}' "$RESULTS")
suites=$(wc -l <"$RESULTS")
if [ "$suites" -ne 6 ]; then
  echo "run.sh: only $suites of 6 suites reported results"
  failed=$((failed + 6 - suites))
fi
echo "deploy tests took $(($(date +%s) - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
