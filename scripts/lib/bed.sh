# Sourced by the demo and the benchmarks: a test bed with the sponsor's card in reader 1 and a
# user's card due for renewal in reader 2. Sets WORK, HSM_CONF, SOCKET and HOST_CONFIG; call
# bed_stop (or let the EXIT trap do it) to end pcscd and remove WORK.
# Needs BIN (the directory holding cis-testbed).

bed_start() {
  local user_days=${1:-45}
  WORK=$(mktemp -d /tmp/cis-renew-bed.XXXXXX)
  "$BIN/cis-testbed" ca init --dir "$WORK/ca" --cn "cis-renew Demo CA" >/dev/null
  HSM_CONF=$("$BIN/cis-testbed" softhsm new --dir "$WORK/softhsm")
  "$BIN/cis-testbed" provision --softhsm-conf "$HSM_CONF" --ca "$WORK/ca" --label "Sponsor card" \
    --pin 123456 --so-pin 12345678 --auth-days 500 --sign-days 500 >/dev/null
  "$BIN/cis-testbed" provision --softhsm-conf "$HSM_CONF" --ca "$WORK/ca" --label "User card" \
    --pin 123456 --so-pin 12345678 --auth-days "$user_days" --sign-days "$user_days" >/dev/null

  coproc TESTBED { exec "$BIN/cis-testbed" serve --state "$WORK/pcscd"; }
  BED_PID=$TESTBED_PID
  local ready answer reader
  read -r ready <&"${TESTBED[0]}"
  SOCKET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["socket"])' "$ready")
  for reader in 0 1; do
    echo "insert $reader" >&"${TESTBED[1]}"
    read -r answer <&"${TESTBED[0]}"
    case "$answer" in *'"ok":true'*) ;; *) echo "bed: inserting a card failed: $answer" >&2; return 1;; esac
  done

  HOST_CONFIG="$WORK/host.json"
  cat > "$HOST_CONFIG" <<JSON
{
  "pkcs11Module": "/usr/lib/softhsm/libsofthsm2.so",
  "slotMap": {
    "Virtual PCD 00 00": {"tokenLabel": "Sponsor card"},
    "Virtual PCD 00 01": {"tokenLabel": "User card"}
  },
  "logFile": "$WORK/host.log",
  "trustAnchors": ["$WORK/ca/ca.pem"]
}
JSON
  export PCSCLITE_CSOCK_NAME="$SOCKET" SOFTHSM2_CONF="$HSM_CONF" CIS_RENEW_CONFIG="$HOST_CONFIG"
  trap bed_stop EXIT
}

bed_stop() {
  if [ -n "${BED_PID:-}" ]; then
    echo quit >&"${TESTBED[1]}" 2>/dev/null || true
    wait "$BED_PID" 2>/dev/null || true
    BED_PID=
  fi
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  WORK=
}
