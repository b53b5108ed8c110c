# Shared by the installer tests: pass/fail bookkeeping and a final "N passed, M failed" line.
# Source it, call `check NAME COMMAND...` or `ok NAME` / `fail NAME DETAIL`, end with `finish`.
# When RESULTS is set (installer/tests/run.sh does), the counts are appended there too.

PASSED=0
FAILED=0

ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s%s\n' "$1" "${2:+: $2}"; }

# check NAME COMMAND...: passes when COMMAND exits 0; on failure shows its output.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 5)"; fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  if [ -n "${RESULTS:-}" ]; then echo "$PASSED $FAILED" >>"$RESULTS"; fi
  [ "$FAILED" -eq 0 ]
}

# identity KEY: a value from manifests/identity.json (chromiumId, edgeId, firefoxId), the one
# place that names the extension's IDs (docs/ids.md).
identity() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$(dirname "${BASH_SOURCE[0]}")/../../manifests/identity.json" "$1"
}
