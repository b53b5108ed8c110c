#!/usr/bin/env bash
# Runs every test of cis-renew: formatting and lints, the Rust unit and integration tests on the
# real test bed (pcscd + vpcd/vicc + SoftHSM), the Windows cross-build, the extension's unit
# tests, the end-to-end browser tests and the installer tests. Installs what it needs first.
# Needs root (apt, and namespaces for the private pcscd). Exits non-zero if any suite fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh test || { echo "install-deps failed"; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"

passed=0
failed=0
failures=()
suite() {
  local name=$1; shift
  echo
  echo "=== $name"
  local started=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - started)) s)"
  fi
}

suite "cargo fmt" cargo fmt --all -- --check
suite "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
suite "cargo build (binaries the tests spawn)" cargo build --workspace --bins --locked
suite "PIV test card build (own workspace and target dir)" \
  cargo build --manifest-path tests/testbed/piv-card/Cargo.toml --target-dir target/piv-card --locked
suite "PIV test card fmt" cargo fmt --manifest-path tests/testbed/piv-card/Cargo.toml -- --check
export CIS_TESTBED_BIN="$ROOT/target/debug/cis-testbed"
suite "cargo test" cargo test --workspace --locked --no-fail-fast
suite "host builds for Windows (x86_64-pc-windows-gnu)" \
  cargo build -p cis-renew-host --target x86_64-pc-windows-gnu --locked

if [ -f extension/package.json ]; then
  suite "extension unit tests" bash -c 'cd extension && npm test'
fi
if [ -f tests/e2e/package.json ]; then
  suite "end-to-end (Chromium + extension + host + stand-in)" bash -c 'cd tests/e2e && npm test'
fi
if [ -x installer/tests/run.sh ]; then
  suite "installers, manifests and policy" installer/tests/run.sh
fi

echo
if [ $failed -gt 0 ]; then
  echo "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
