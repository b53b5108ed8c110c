#!/usr/bin/env bash
# The macOS package layout (issue 6): what can be built here. Builds the payload tree with a
# stand-in binary (no macOS toolchain here), checks every path against the locations table
# (manifests equal manifests/macos), and runs the postinstall script against a scratch volume:
# it puts the default config in place once, never overwrites an edited one, and has the host
# write the manifests again when store IDs were saved.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/installer/tests/lib.sh"
cd "$repo"
export LC_ALL=C

echo "== macOS payload"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The stand-in records how it is called (postinstall runs it when store IDs were saved).
printf '#!/bin/sh\necho "$*" >>"%s/calls"\n' "$work" >"$work/cis-renew-host"
out=$(installer/macos/build-payload.sh "$work/cis-renew-host" 9.9.9 | tail -n1)
check "payload built" test -d "$out/payload"
files=$(cd "$out/payload" && find . -type f | sort | tr '\n' ',')
check_eq "payload files" \
  "./Library/Application Support/Chromium/NativeMessagingHosts/uk.nhs.cis_renew.json,./Library/Application Support/Mozilla/NativeMessagingHosts/uk.nhs.cis_renew.json,./Library/Application Support/cis-renew/cis-renew-host,./Library/Application Support/cis-renew/host.json.default,./Library/Application Support/cis-renew/uninstall.sh,./Library/Google/Chrome/NativeMessagingHosts/uk.nhs.cis_renew.json,./Library/Microsoft/Edge/NativeMessagingHosts/uk.nhs.cis_renew.json," \
  "$files"
p="$out/payload/Library"
check "Chrome's manifest equals manifests/macos/chrome.json" cmp "$p/Google/Chrome/NativeMessagingHosts/uk.nhs.cis_renew.json" manifests/macos/chrome.json
check "Chromium's manifest equals manifests/macos/chromium.json" cmp "$p/Application Support/Chromium/NativeMessagingHosts/uk.nhs.cis_renew.json" manifests/macos/chromium.json
check "Edge's manifest equals manifests/macos/edge.json" cmp "$p/Microsoft/Edge/NativeMessagingHosts/uk.nhs.cis_renew.json" manifests/macos/edge.json
check "Firefox's manifest equals manifests/macos/firefox.json" cmp "$p/Application Support/Mozilla/NativeMessagingHosts/uk.nhs.cis_renew.json" manifests/macos/firefox.json
check "the host and scripts are executable" test -x "$p/Application Support/cis-renew/cis-renew-host" -a -x "$out/scripts/postinstall" -a -x "$out/build-pkg.sh"
check "build-pkg.sh names the identifier and version" sh -c "grep -q -- '--identifier uk.nhs.cis-renew.host' '$out/build-pkg.sh' && grep -q -- '--version 9.9.9' '$out/build-pkg.sh'"
check "scripts parse (sh -n)" sh -c "sh -n '$out/scripts/postinstall' && sh -n installer/macos/uninstall.sh && sh -n '$out/build-pkg.sh'"

vol="$work/volume"
mkdir -p "$vol"
cp -R "$out/payload/." "$vol/"
"$out/scripts/postinstall" pkg "$vol" "$vol" /
check "postinstall puts the default config in place" cmp "$vol/Library/Application Support/cis-renew/host.json" installer/macos/host.json
echo '{"logLevel": "debug"}' >"$vol/Library/Application Support/cis-renew/host.json"
"$out/scripts/postinstall" pkg "$vol" "$vol" /
check_eq "postinstall keeps an edited config" '{"logLevel": "debug"}' "$(cat "$vol/Library/Application Support/cis-renew/host.json")"
check "postinstall does not run the host when no store IDs were saved" test ! -e "$work/calls"
echo '{"chromeWebStoreId": "x"}' >"$vol/Library/Application Support/cis-renew/store-ids.json"
"$out/scripts/postinstall" pkg "$vol" "$vol" /
check_eq "with saved store IDs, postinstall has the host write the manifests again (install --system)" \
  "install --system --exe /Library/Application Support/cis-renew/cis-renew-host --root $vol" "$(cat "$work/calls" 2>/dev/null)"
finish
