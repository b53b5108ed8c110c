#!/usr/bin/env bash
# The Linux package (issue 6): builds the .deb, checks its contents and control data, installs it
# on this machine, checks the files and that headless Chromium finds the system host (a smoke
# extension with our fixed ID gets the hello), runs doctor from the package, removes and purges
# it, and checks that nothing is left and Chromium no longer finds the host. Needs root.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/installer/tests/lib.sh"
cd "$repo"
export LC_ALL=C

if dpkg-query -W -f='${Status}' cis-renew-host 2>/dev/null | grep -q 'install ok'; then
  echo "cis-renew-host is already installed here; removing it first"
  dpkg --purge cis-renew-host >/dev/null
fi
key=$(awk '/^```$/ {f = !f; next} f' docs/ids.md | head -n1)

echo "== deb: build"
t0=$(date +%s)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
deb=$(installer/linux/build-deb.sh "$version" | tail -n1)
check "package built" test -s "$deb"
echo "   build took $(($(date +%s) - t0)) s"
# A private home (after the build: rustup lives in the real one), so per-user manifests of this
# machine's root cannot shadow the system ones.
export HOME=$(mktemp -d)
trap 'rm -rf "$HOME"' EXIT
t1=$(date +%s)

listing=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort | tr '\n' ',')
check_eq "package files" \
  "./etc/chromium/native-messaging-hosts/uk.nhs.cis_renew.json,./etc/cis-renew/host.json,./etc/opt/chrome/native-messaging-hosts/uk.nhs.cis_renew.json,./etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json,./usr/bin/cis-renew-host,./usr/lib/cis-renew/cis-renew-host,./usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json,./usr/lib64/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json,./usr/share/doc/cis-renew-host/deployment.md," \
  "$listing"
check_eq "control: package, version, arch" "cis-renew-host $version amd64" \
  "$(dpkg-deb -f "$deb" Package Version Architecture | awk -F': ' '{printf "%s%s", sep, $2; sep=" "}')"
check "control: depends on libpcsclite1" sh -c "dpkg-deb -f '$deb' Depends | grep -q libpcsclite1"
check_eq "conffiles: the host config" "/etc/cis-renew/host.json" "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)"
files=(/usr/lib/cis-renew/cis-renew-host /usr/bin/cis-renew-host /etc/cis-renew/host.json
  /etc/opt/chrome/native-messaging-hosts/uk.nhs.cis_renew.json /etc/chromium/native-messaging-hosts/uk.nhs.cis_renew.json
  /etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json /usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json
  /usr/lib64/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json)

echo "== deb: install"
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >/dev/null 2>&1
check_eq "dpkg -i exits 0" 0 $?
missing=""
for f in "${files[@]}"; do [ -e "$f" ] || missing="$missing $f"; done
check_eq "every file is in place" "" "$missing"
check "Chrome's manifest equals manifests/linux/chrome.json" cmp /etc/opt/chrome/native-messaging-hosts/uk.nhs.cis_renew.json manifests/linux/chrome.json
check "Chromium's manifest equals manifests/linux/chromium.json" cmp /etc/chromium/native-messaging-hosts/uk.nhs.cis_renew.json manifests/linux/chromium.json
check "Edge's manifest equals manifests/linux/edge.json" cmp /etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json manifests/linux/edge.json
check "both Firefox manifests equal manifests/linux/firefox.json" sh -c \
  "cmp /usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json manifests/linux/firefox.json && cmp /usr/lib64/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json manifests/linux/firefox.json"
check_eq "cis-renew-host is on PATH" "cis-renew-host $version" "$(cis-renew-host --version 2>&1)"

smoke=$(python3 installer/tests/chromium_smoke.py "$key" 30 2>&1)
check "headless Chromium finds the system host and gets its hello" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["id"] == sys.argv[2], r
assert r.get("message", {}).get("type") == "hello", r
' "$smoke" "$(identity chromiumId)"

doctor=$(PCSCLITE_CSOCK_NAME=/nonexistent cis-renew-host doctor --json 2>/dev/null)
check "doctor from the package: config and every browser's manifest are ok" python3 -c '
import json, sys
c = {x["check"]: x for x in json.loads(sys.argv[1])["checks"]}
for name in ("config", "manifest chrome", "manifest chromium", "manifest edge", "manifest firefox"):
    assert c[name]["status"] == "ok", c[name]
assert "/etc/cis-renew/host.json" in c["config"]["detail"], c["config"]
' "$doctor"

echo '{"logLevel": "debug"}' >/etc/cis-renew/host.json
dpkg -r cis-renew-host >/dev/null 2>&1
check_eq "dpkg -r exits 0" 0 $?
left=""
for f in "${files[@]}"; do [ "$f" != /etc/cis-renew/host.json ] && [ -e "$f" ] && left="$left $f"; done
check_eq "remove takes every file but the conffile" "" "$left"
check "remove keeps the edited config (a conffile)" grep -q debug /etc/cis-renew/host.json
dpkg --purge cis-renew-host >/dev/null 2>&1
check_eq "dpkg --purge exits 0" 0 $?
left=""
for f in "${files[@]}" /etc/cis-renew /usr/lib/cis-renew /etc/opt/chrome/native-messaging-hosts /etc/chromium/native-messaging-hosts; do
  [ -e "$f" ] && left="$left $f"
done
check_eq "purge leaves nothing" "" "$left"
check "dpkg no longer knows the package" sh -c "! dpkg-query -W cis-renew-host >/dev/null 2>&1 || dpkg-query -W -f='\${Status}' cis-renew-host | grep -q not-installed"
smoke=$(python3 installer/tests/chromium_smoke.py "$key" 30 2>&1)
check "after purge Chromium reports the host not found" sh -c "printf '%s' '$smoke' | grep -q 'native messaging host not found'"
echo "   install/smoke/remove cycle took $(($(date +%s) - t1)) s"
finish
