#!/usr/bin/env bash
# The Linux package (issue 6): builds the .deb, checks its contents and control data, installs it
# on this machine, checks the files and that headless Chromium finds the system host (a smoke
# extension with our fixed ID gets the hello), runs doctor from the package, upgrades over IT's
# edited host.json (no prompt) and over a saved store ID (kept), removes and purges it, and
# checks that nothing is left and Chromium no longer finds the host. Needs root.
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
# One time stamp for both builds below (a commit made while the test runs must not move it).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1700000000)}
t0=$(date +%s)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
deb=$(installer/linux/build-deb.sh "$version" | tail -n1)
check "package built" test -s "$deb"
echo "   build took $(($(date +%s) - t0)) s"
# Reproducible: a second build from the same binary (and SOURCE_DATE_EPOCH) gives the same bytes.
first=$(sha256sum <"$deb")
sleep 1
CIS_RENEW_LINUX_EXE="$repo/target/release/cis-renew-host" installer/linux/build-deb.sh "$version" >/dev/null
check_eq "two builds give the same sha256" "$first" "$(sha256sum <"$deb")"
lint=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges')
check_eq "lintian: no errors or warnings (overrides in installer/linux/lintian-overrides say why)" "" "$lint"
# A private home (after the build: rustup lives in the real one), so per-user manifests of this
# machine's root cannot shadow the system ones.
export HOME=$(mktemp -d)
trap 'rm -rf "$HOME"' EXIT
t1=$(date +%s)

listing=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort | tr '\n' ',')
check_eq "package files (the default config under /usr/share, no file in /etc/cis-renew)" \
  "./etc/chromium/native-messaging-hosts/uk.nhs.cis_renew.json,./etc/opt/chrome/native-messaging-hosts/uk.nhs.cis_renew.json,./etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json,./usr/bin/cis-renew-host,./usr/lib/cis-renew/cis-renew-host,./usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json,./usr/lib64/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json,./usr/share/cis-renew/host.json,./usr/share/doc/cis-renew-host/changelog.gz,./usr/share/doc/cis-renew-host/copyright,./usr/share/doc/cis-renew-host/deployment.md.gz,./usr/share/lintian/overrides/cis-renew-host,./usr/share/man/man1/cis-renew-host.1.gz," \
  "$listing"
check_eq "control: package, version, arch" "cis-renew-host $version amd64" \
  "$(dpkg-deb -f "$deb" Package Version Architecture | awk -F': ' '{printf "%s%s", sep, $2; sep=" "}')"
check "control: Depends from dpkg-shlibdeps (libc6 and libpcsclite1 with versions)" sh -c \
  "dpkg-deb -f '$deb' Depends | grep -E 'libc6 \(>= [0-9.]+\)' | grep -qE 'libpcsclite1 \(>= [0-9.]+\)'"
check_eq "no conffiles (nothing for an upgrade to ask about)" "" "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null)"
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

check_eq "postinst put the default config in place, root's" "root 644" "$(stat -c '%U %a' /etc/cis-renew/host.json)"
echo '{"logLevel": "debug"}' >/etc/cis-renew/host.json
# An unattended upgrade over IT's edit: no prompt (stdin closed), the edit stays.
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" </dev/null >/dev/null 2>&1
check_eq "reinstall/upgrade over an edited config exits 0 without asking" 0 $?
check "the upgrade keeps IT's config" grep -q debug /etc/cis-renew/host.json

echo "== deb: a store ID survives a package upgrade"
t2=$(date +%s)
store_id=$(printf 'e%.0s' $(seq 32))
cis-renew-host install --chrome-web-store-id "$store_id" >/dev/null 2>&1
check_eq "cis-renew-host install --chrome-web-store-id exits 0" 0 $?
check_eq "the ID is kept in /etc/cis-renew/store-ids.json, root's, 644" "root 644 $store_id" \
  "$(stat -c '%U %a' /etc/cis-renew/store-ids.json) $(python3 -c 'import json; print(json.load(open("/etc/cis-renew/store-ids.json"))["chromeWebStoreId"])')"
deb2=$(CIS_RENEW_LINUX_EXE="$repo/target/release/cis-renew-host" installer/linux/build-deb.sh "$version.1" | tail -n1)
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb2" </dev/null >/dev/null 2>&1
code=$?
check_eq "unattended upgrade to $version.1 exits 0" "0 $version.1" "$code $(dpkg-query -W -f='${Version}' cis-renew-host)"
check "after the upgrade Chrome's, Chromium's and Edge's manifests still allow the store ID (postinst wrote them again)" python3 -c '
import json, sys
for path in sys.argv[2:]:
    origins = json.load(open(path))["allowed_origins"]
    assert "chrome-extension://%s/" % sys.argv[1] in origins, (path, origins)
' "$store_id" /etc/opt/chrome/native-messaging-hosts/uk.nhs.cis_renew.json \
  /etc/chromium/native-messaging-hosts/uk.nhs.cis_renew.json /etc/opt/edge/native-messaging-hosts/uk.nhs.cis_renew.json
frames=$(python3 installer/tests/nm_client.py -- /usr/lib/cis-renew/cis-renew-host "chrome-extension://$store_id/" 2>&1)
check "the host serves the store ID (allowedOrigins = the defaults + the saved IDs)" sh -c \
  "printf '%s\n' '$frames' | head -n1 | grep -q '\"type\": \"hello\"'"
check "and IT's config is still the edited one" grep -q debug /etc/cis-renew/host.json
rm -f "$deb2"
rm -rf "$(dirname "$deb2")/stage-deb-$version.1"
echo "   store ID upgrade took $(($(date +%s) - t2)) s"
dpkg -r cis-renew-host >/dev/null 2>&1
check_eq "dpkg -r exits 0" 0 $?
left=""
for f in "${files[@]}"; do [ "$f" != /etc/cis-renew/host.json ] && [ -e "$f" ] && left="$left $f"; done
check_eq "remove takes every file but IT's config" "" "$left"
check "remove keeps the edited config" grep -q debug /etc/cis-renew/host.json
dpkg --purge cis-renew-host >/dev/null 2>&1
check_eq "dpkg --purge exits 0" 0 $?
left=""
for f in "${files[@]}" /etc/cis-renew/store-ids.json /etc/cis-renew /usr/lib/cis-renew /etc/opt/chrome/native-messaging-hosts /etc/chromium/native-messaging-hosts; do
  [ -e "$f" ] && left="$left $f"
done
check_eq "purge leaves nothing" "" "$left"
check "dpkg no longer knows the package" sh -c "! dpkg-query -W cis-renew-host >/dev/null 2>&1 || dpkg-query -W -f='\${Status}' cis-renew-host | grep -q not-installed"
smoke=$(python3 installer/tests/chromium_smoke.py "$key" 30 2>&1)
check "after purge Chromium reports the host not found" sh -c "printf '%s' '$smoke' | grep -q 'native messaging host not found'"
echo "   install/smoke/remove cycle took $(($(date +%s) - t1)) s"
finish
