#!/usr/bin/env bash
# The Windows MSI (issue 6): builds it, asserts its tables with msiinfo, then under wine: silent
# install, the HKLM keys for Chrome, Chromium, Edge and Firefox (and WOW6432Node for 32-bit
# Firefox) pointing at the installed manifests, the installed .exe answering hello and reporting
# PCSC_UNAVAILABLE (wine's WinSCard is a stub), doctor reading the registry, the IT properties,
# an upgrade in place that keeps IT's config edits, a refused downgrade, a clean uninstall, and
# the .exe's own `install`/`uninstall` writing HKCU and HKLM keys.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/installer/tests/lib.sh"
cd "$repo"
chromium_id=$(identity chromiumId)
edge_id=$(identity edgeId)
firefox_id=$(identity firefoxId)

echo "== MSI: build"
t0=$(date +%s)
cargo build --quiet --release -p cis-renew-host --target x86_64-pc-windows-gnu || { fail "windows build"; finish; exit 1; }
exe="$repo/target/x86_64-pc-windows-gnu/release/cis-renew-host.exe"
export CIS_RENEW_WIN_EXE="$exe"
msi1=$(installer/windows/build.sh 1.0.0 | tail -n1) && msi2=$(installer/windows/build.sh 1.1.0 | tail -n1)
check "MSI 1.0.0 and 1.1.0 built" test -s "$msi1" -a -s "$msi2"
echo "   build took $(($(date +%s) - t0)) s"

echo "== MSI: Authenticode"
# A code-signing certificate made here, for this run only.
signdir=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cis-renew test signer" \
  -addext "extendedKeyUsage=codeSigning" -addext "keyUsage=digitalSignature" \
  -keyout "$signdir/key.pem" -out "$signdir/cert.pem" >/dev/null 2>&1
signed=$(CIS_RENEW_SIGN_CERT="$signdir/cert.pem" CIS_RENEW_SIGN_KEY="$signdir/key.pem" installer/windows/build.sh 1.0.1 | tail -n1)
check "the signed MSI verifies against the signing certificate" \
  osslsigncode verify -CAfile "$signdir/cert.pem" -in "$signed"
check "the .exe packed in it is signed and verifies" \
  osslsigncode verify -CAfile "$signdir/cert.pem" -in installer/out/stage-windows-1.0.1/cis-renew-host.exe
check "an unsigned build carries no signature" sh -c "! osslsigncode verify -in '$msi1' >/dev/null 2>&1"
rm -rf "$signdir" "$signed" installer/out/stage-windows-1.0.1

echo "== MSI: tables"
export LC_ALL=C
# msiinfo writes CRLF lines; the first three are the column names, types and table key.
table() { msiinfo export "$msi1" "$1" | tr -d '\r' | tail -n +4; }
files=$(table File | cut -f1,3 | sort | tr '\t\n' ':,')
check_eq "File table: the exe, four manifests, the config" \
  "DefaultConfig:host.json,HostExe:cis-renew-host.exe,ManifestChrome:chrome.json,ManifestChromium:chromium.json,ManifestEdge:edge.json,ManifestFirefox:firefox.json," \
  "$files"
components=$(table Component | awk -F'\t' '{print $1":"$3":"$4":"$5}' | sort | tr '\n' ',')
check_eq "Component table: folders, 64-bit, and the 32-bit Firefox key" \
  "DefaultConfig:CONFIGDIR:400:,HostExe:INSTALLDIR:256:,ManifestChrome:INSTALLDIR:256:,ManifestChromium:INSTALLDIR:256:,ManifestEdge:INSTALLDIR:256:,ManifestFirefox32:INSTALLDIR:4:,ManifestFirefox:INSTALLDIR:256:," \
  "$components"
registry=$(table Registry | awk -F'\t' '{print $2":"$3":"$4":"$5":"$6}' | sort | tr '\n' ',')
check_eq "Registry table: HKLM keys for every browser, Firefox also 32-bit, remembered INSTALLDIR" \
  "2:Software\\Chromium\\NativeMessagingHosts\\uk.nhs.cis_renew\\::[INSTALLDIR]chromium.json:ManifestChromium,2:Software\\Google\\Chrome\\NativeMessagingHosts\\uk.nhs.cis_renew\\::[INSTALLDIR]chrome.json:ManifestChrome,2:Software\\Microsoft\\Edge\\NativeMessagingHosts\\uk.nhs.cis_renew\\::[INSTALLDIR]edge.json:ManifestEdge,2:Software\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew\\::[INSTALLDIR]firefox.json:ManifestFirefox,2:Software\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew\\::[INSTALLDIR]firefox.json:ManifestFirefox32,2:Software\\cis-renew:InstallDir:[INSTALLDIR]:HostExe," \
  "$registry"
props=$(table Property | awk -F'\t' '$1 ~ /^(ALLUSERS|UpgradeCode|ProductVersion|ProductName|Manufacturer|ARPNOMODIFY)$/ {print $1"="$2}' | sort | tr '\n' ',')
check_eq "Property table" \
  "ALLUSERS=1,ARPNOMODIFY=1,Manufacturer=cis-renew,ProductName=cis-renew native host,ProductVersion=1.0.0,UpgradeCode={4574B3E9-146D-476D-886C-7D2DF27E8EF5}," \
  "$props"
upgrade=$(table Upgrade | awk -F'\t' '{print $2"-"$3":"$5":"$7}' | sort | tr '\n' ',')
check_eq "Upgrade table: older versions replaced, newer detected (downgrade)" \
  "-1.0.0:1:WIX_UPGRADE_DETECTED,1.0.0-:2:WIX_DOWNGRADE_DETECTED," "$upgrade"
check "AppSearch reads the remembered INSTALLDIR back" sh -c \
  "msiinfo export '$msi1' AppSearch | grep -q '^INSTALLDIR' && msiinfo export '$msi1' RegLocator | tr -d '\r' | grep -q 'Software.cis-renew.InstallDir'"
locks=$(table MsiLockPermissionsEx | awk -F'\t' '{print $2":"$3":"$4}' | sort | tr '\n' ',')
check_eq "MsiLockPermissionsEx: both folders and host.json owned by Administrators, SYSTEM and Administrators full control, Users read, nothing inherited" \
  "CONFIGDIR:CreateFolder:O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU),DefaultConfig:File:O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU),INSTALLDIR:CreateFolder:O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)," \
  "$locks"
check_eq "CreateFolder rows for the locked folders" "CONFIGDIR:DefaultConfig,INSTALLDIR:HostExe," \
  "$(table CreateFolder | tr '\t' ':' | sort | tr '\n' ',')"
check_eq "the SDDL equals install --system's (host/src/deploy/secure_dir.rs)" 1 \
  "$(grep -cF "\"$(table MsiLockPermissionsEx | awk -F'\t' '$1=="LockConfigDir" {print $4}')\"" host/src/deploy/secure_dir.rs)"
check_eq "Apps entry: help and about links, contact" \
  "ARPCONTACT=cis-renew maintainers,ARPHELPLINK=https://digital.nhs.uk/services/care-identity-service,ARPURLINFOABOUT=https://digital.nhs.uk/services/care-identity-service," \
  "$(table Property | awk -F'\t' '$1 ~ /^ARP(HELPLINK|URLINFOABOUT|CONTACT)$/ {print $1"="$2}' | sort | tr '\n' ',')"
check_eq "Apps entry: the install folder, set after CostFinalize" "51:ARPINSTALLLOCATION:[INSTALLDIR]:1001" \
  "$(table CustomAction | awk -F'\t' '$1=="SetArpInstallLocation" {print $2":"$3":"$4}'):$(table InstallExecuteSequence | awk -F'\t' '$1=="SetArpInstallLocation" {print $3}')"
check "LaunchCondition refuses a downgrade" sh -c "msiinfo export '$msi1' LaunchCondition | grep -q 'NOT WIX_DOWNGRADE_DETECTED'"
seq=$(table InstallExecuteSequence | awk -F'\t' '$1=="RemoveExistingProducts"||$1=="InstallExecute"||$1=="InstallFinalize"||$1=="InstallInitialize" {print $1"="$3}' | sort | tr '\n' ',')
check_eq "the old version is removed after InstallInitialize, inside the transaction" \
  "InstallFinalize=6600,InstallInitialize=1500,RemoveExistingProducts=1501," "$seq"
check_eq "host.json: never overwrites one that is there, and stays when a version is removed (NeverOverwrite, Permanent)" "400" \
  "$(table Component | awk -F'\t' '$1=="DefaultConfig" {print $4}')"
check "manifests in the MSI equal manifests/windows (relative path)" sh -c \
  "grep -q '\"path\": \"cis-renew-host.exe\"' installer/out/stage-windows-1.0.0/chrome.json && cmp -s installer/out/stage-windows-1.0.0/firefox.json manifests/windows/firefox.json"
check "the .exe imports only system DLLs (no mingw runtime to ship)" sh -c \
  "x86_64-w64-mingw32-objdump -p '$exe' | awk '/DLL Name/ {print tolower(\$3)}' | sort -u | grep -vxE 'kernel32.dll|msvcrt.dll|ntdll.dll|winscard.dll|advapi32.dll|bcryptprimitives.dll|ws2_32.dll|userenv.dll|api-ms-win-core-synch-l1-2-0.dll' | (! grep .)"

echo "== MSI: wine"
if ! command -v wine >/dev/null; then fail "wine is installed (scripts/install-deps.sh)"; finish; exit 1; fi
t1=$(date +%s)
work=$(mktemp -d)
export HOME="$work/home" WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY
mkdir -p "$HOME"
cleanup() { wineserver -k >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
# Start the server detached, or wine's helpers inherit our pipes and reads never see EOF.
wineserver -p </dev/null >/dev/null 2>&1
wine wineboot </dev/null >/dev/null 2>&1
# Wine 8 lacks bcryptprimitives.dll (every Windows 10/11 has it; Rust's std imports ProcessPrng
# from it): put a test-only stand-in into the prefix. See wine/bcryptprimitives.c.
x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  installer/tests/wine/bcryptprimitives.c installer/tests/wine/bcryptprimitives.def -ladvapi32
echo "   prefix ready in $(($(date +%s) - t1)) s"
pf="$WINEPREFIX/drive_c/Program Files/cis-renew"
pd="$WINEPREFIX/drive_c/ProgramData/cis-renew"
key_value() { wine reg query "$1" /ve 2>/dev/null | tr -d '\r' | awk -F'REG_SZ' 'NF>1 {sub(/^[ \t]+/, "", $2); print $2}'; }
key_exists() { wine reg query "$1" >/dev/null 2>&1; }
hosts_keys=(
  'HKLM\Software\Google\Chrome\NativeMessagingHosts\uk.nhs.cis_renew|chrome.json'
  'HKLM\Software\Chromium\NativeMessagingHosts\uk.nhs.cis_renew|chromium.json'
  'HKLM\Software\Microsoft\Edge\NativeMessagingHosts\uk.nhs.cis_renew|edge.json'
  'HKLM\Software\Mozilla\NativeMessagingHosts\uk.nhs.cis_renew|firefox.json'
  'HKLM\Software\WOW6432Node\Mozilla\NativeMessagingHosts\uk.nhs.cis_renew|firefox.json'
)
arp_versions() {
  wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' |
    awk '/DisplayName/ && /cis-renew native host/ {hit=1} /^HKEY/ {hit=0} hit && /DisplayVersion/ {print $3}' | sort | tr '\n' ' '
}

wine msiexec /i "$msi1" /qn </dev/null >/dev/null 2>&1
check_eq "msiexec /i 1.0.0 /qn exits 0" 0 $?
check "files installed" test -f "$pf/cis-renew-host.exe" -a -f "$pf/chrome.json" -a -f "$pf/chromium.json" -a -f "$pf/edge.json" -a -f "$pf/firefox.json" -a -f "$pd/host.json"
for entry in "${hosts_keys[@]}"; do
  key=${entry%|*} file=${entry#*|}
  check_eq "$key -> installed $file" "C:\\Program Files\\cis-renew\\$file" "$(key_value "$key")"
done
# Wine records no owner: whatever it creates belongs to the wine user, so the host refuses the
# installed host.json (on Windows the MSI's files belong to SYSTEM or Administrators). That
# refusal is the Windows owner/DACL check at work; the checks after it run on the defaults,
# which the shipped host.json does not change.
frames=$(python3 installer/tests/nm_client.py -- wine 'C:\Program Files\cis-renew\cis-renew-host.exe' chrome-extension://$chromium_id/ 2>&1)
check "under wine the host refuses host.json, which wine says the wine user owns" sh -c \
  "printf '%s\n' '$frames' | grep -q CONFIG_INVALID && printf '%s\n' '$frames' | grep -q 'owned by S-1-5-21-'"
rm -f "$pd/host.json"
frames=$(python3 installer/tests/nm_client.py --request '{"id":1,"command":"status"}' -- \
  wine 'C:\Program Files\cis-renew\cis-renew-host.exe' chrome-extension://$chromium_id/ 2>&1)
check "installed .exe says hello first" sh -c "printf '%s\n' '$frames' | head -n1 | grep -q '\"type\": \"hello\"'"
check "status reports PCSC_UNAVAILABLE as a typed error" sh -c "printf '%s\n' '$frames' | grep '\"id\": 1' | grep -q '\"code\": \"PCSC_UNAVAILABLE\"'"
check "the host exits 0 when the port closes" sh -c "printf '%s\n' '$frames' | tail -n1 | grep -q '\"exit\": 0'"
frames=$(python3 installer/tests/nm_client.py -- wine 'C:\Program Files\cis-renew\cis-renew-host.exe' chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/ 2>&1)
check "an extension not allowed by the installed config is refused" sh -c "printf '%s\n' '$frames' | grep -q ORIGIN_NOT_ALLOWED"

doctor=$(wine 'C:\Program Files\cis-renew\cis-renew-host.exe' doctor --json </dev/null 2>/dev/null | tr -d '\r')
check "doctor under wine: every browser's registry key and manifest are ok" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
c = {x["check"]: x for x in r["checks"]}
bad = [n for n in ("config", "manifest chrome", "manifest chromium", "manifest edge", "manifest firefox") if c[n]["status"] != "ok"]
assert not bad, [c[n] for n in bad]
assert "HKCU" not in c["manifest chrome"]["detail"] and "HKLM" in c["manifest chrome"]["detail"], c["manifest chrome"]
assert c["smart card service"]["status"] == "fail" and "PCSC_UNAVAILABLE" in c["smart card service"]["detail"]
assert r["ok"] is False
' "$doctor"
# doctor reads the browser policies from the registry: a blocklist naming every host, and a
# stale key in the 32-bit view that Chrome reads before the MSI's 64-bit one.
wine reg add 'HKLM\Software\Policies\Microsoft\Edge\NativeMessagingBlocklist' /v 1 /d '*' /f </dev/null >/dev/null 2>&1
wine reg add 'HKLM\Software\WOW6432Node\Google\Chrome\NativeMessagingHosts\uk.nhs.cis_renew' /ve /d 'C:\old\chrome.json' /f </dev/null >/dev/null 2>&1
doctor=$(wine 'C:\Program Files\cis-renew\cis-renew-host.exe' doctor --json --browser edge,chrome </dev/null 2>/dev/null | tr -d '\r')
check "doctor under wine: Edge's NativeMessagingBlocklist from the registry, and Chrome's 32-bit key first, each a FAIL with its fix" python3 -c '
import json, sys
c = {(x["check"], x["status"]): x["detail"] for x in json.loads(sys.argv[1])["checks"]}
edge = c[("policy edge", "fail")]
assert edge.endswith("Fix: add \"uk.nhs.cis_renew\" to NativeMessagingAllowlist (in HKLM\\Software\\Policies\\Microsoft\\Edge)."), edge
chrome = c[("manifest chrome", "fail")]
assert chrome.startswith("HKLM\\Software\\WOW6432Node\\Google\\Chrome\\NativeMessagingHosts\\uk.nhs.cis_renew -> C:\\old\\chrome.json: "), chrome
assert ". Fix: " in chrome, chrome
' "$doctor"
wine reg delete 'HKLM\Software\Policies\Microsoft\Edge' /f </dev/null >/dev/null 2>&1
wine reg delete 'HKLM\Software\WOW6432Node\Google\Chrome\NativeMessagingHosts\uk.nhs.cis_renew' /f </dev/null >/dev/null 2>&1

echo '{"logLevel": "debug"}' >"$pd/host.json"
wine msiexec /i "$msi2" /qn </dev/null >/dev/null 2>&1
check_eq "msiexec /i 1.1.0 (upgrade) exits 0" 0 $?
check_eq "one Add/Remove entry, now 1.1.0" "1.1.0 " "$(arp_versions)"
check_eq "the upgrade keeps IT's config" '{"logLevel": "debug"}' "$(cat "$pd/host.json")"
check_eq "keys still point at the manifests after the upgrade" "C:\\Program Files\\cis-renew\\edge.json" \
  "$(key_value 'HKLM\Software\Microsoft\Edge\NativeMessagingHosts\uk.nhs.cis_renew')"
check "exe still installed after the upgrade" test -f "$pf/cis-renew-host.exe"

wine msiexec /i "$msi1" /qn </dev/null >/dev/null 2>&1
code=$?
check "msiexec /i 1.0.0 over 1.1.0 (downgrade) is refused" test "$code" -ne 0
check_eq "still 1.1.0 after the refused downgrade" "1.1.0 " "$(arp_versions)"
wine msiexec /x "$msi2" /qn </dev/null >/dev/null 2>&1
check_eq "msiexec /x exits 0" 0 $?
check "no files left in Program Files; in ProgramData only IT's host.json (Permanent)" sh -c \
  "! test -e '$pf' && test \"\$(ls -A '$pd')\" = host.json && grep -q debug '$pd/host.json'"
rm -rf "$pd"
left=""
for entry in "${hosts_keys[@]}" 'HKLM\Software\cis-renew|'; do key_exists "${entry%|*}" && left="$left ${entry%|*}"; done
check_eq "no keys left" "" "$left"
check_eq "no Add/Remove entry left" "" "$(arp_versions)"

echo "== MSI: INSTALLDIR chosen by IT"
wine msiexec /i "$msi2" /qn 'INSTALLDIR=C:\Tools\cis-renew\' </dev/null >/dev/null 2>&1
check_eq "msiexec /i with INSTALLDIR exits 0" 0 $?
check_eq "Chrome's key points into INSTALLDIR" 'C:\Tools\cis-renew\chrome.json' \
  "$(key_value 'HKLM\Software\Google\Chrome\NativeMessagingHosts\uk.nhs.cis_renew')"
rm -f "$pd/host.json"  # wine's owner again (see above)
frames=$(python3 installer/tests/nm_client.py -- wine 'C:\Tools\cis-renew\cis-renew-host.exe' 'C:\Tools\cis-renew\firefox.json' "$firefox_id" 2>&1)
check "the host in INSTALLDIR says hello to Firefox's add-on ID" sh -c "printf '%s\n' '$frames' | head -n1 | grep -q hello"
doctor=$(wine 'C:\Tools\cis-renew\cis-renew-host.exe' doctor --json --browser firefox </dev/null 2>/dev/null | tr -d '\r')
check "doctor resolves the relative manifest path inside INSTALLDIR" python3 -c '
import json, sys
c = {x["check"]: x for x in json.loads(sys.argv[1])["checks"]}
assert c["manifest firefox"]["status"] == "ok", c["manifest firefox"]
' "$doctor"
wine msiexec /x "$msi2" /qn </dev/null >/dev/null 2>&1
check "uninstall removes INSTALLDIR" sh -c "! test -e '$WINEPREFIX/drive_c/Tools/cis-renew'"

echo "== the .exe registers itself (install/uninstall under wine)"
cp "$exe" "$work/home/cis-renew-host.exe"
exe_win=$(wine winepath -w "$work/home/cis-renew-host.exe" 2>/dev/null | tr -d '\r')
wine "$exe_win" install --user --browser chrome,firefox </dev/null >/dev/null 2>&1
check_eq "install --user exits 0" 0 $?
v=$(key_value 'HKCU\Software\Google\Chrome\NativeMessagingHosts\uk.nhs.cis_renew')
check "HKCU Chrome key points at a manifest in LOCALAPPDATA" sh -c "printf '%s' '$v' | grep -q 'AppData.Local.cis-renew.manifests.chrome.json'"
manifest_unix=$(wine winepath -u "$v" 2>/dev/null | tr -d '\r')
check "that manifest names this .exe by absolute path" grep -qF "cis-renew-host.exe" "$manifest_unix"
check "install --user did not touch Edge" sh -c "! wine reg query 'HKCU\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\uk.nhs.cis_renew' >/dev/null 2>&1"
wine "$exe_win" install --system --browser firefox </dev/null >/dev/null 2>&1
check_eq "install --system (wine runs as an administrator) exits 0" 0 $?
check "install --system writes both Firefox views" sh -c \
  "wine reg query 'HKLM\\Software\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew' >/dev/null 2>&1 && wine reg query 'HKLM\\Software\\WOW6432Node\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew' >/dev/null 2>&1"
wine "$exe_win" uninstall --user </dev/null >/dev/null 2>&1 && wine "$exe_win" uninstall --system </dev/null >/dev/null 2>&1
check_eq "uninstall --user and --system exit 0" 0 $?
check "uninstall removed the keys and the manifest files" sh -c \
  "! wine reg query 'HKCU\\Software\\Google\\Chrome\\NativeMessagingHosts\\uk.nhs.cis_renew' >/dev/null 2>&1 && ! wine reg query 'HKLM\\Software\\WOW6432Node\\Mozilla\\NativeMessagingHosts\\uk.nhs.cis_renew' >/dev/null 2>&1 && ! test -e '$manifest_unix'"
echo "== the example policy .reg files import"
for b in chrome edge; do
  wine reg import "$(wine winepath -w "$repo/policy/examples/windows/cis-renew-$b.reg" 2>/dev/null | tr -d '\r')" </dev/null >/dev/null 2>&1
  check_eq "reg import cis-renew-$b.reg exits 0" 0 $?
done
chrome_policy='HKLM\Software\Policies\Google\Chrome\3rdparty\extensions\'"$chromium_id"'\policy'
edge_policy='HKLM\Software\Policies\Microsoft\Edge\3rdparty\extensions\'"$edge_id"'\policy'
check "Chrome's 3rdparty policy for our ID holds renewalWindowDays = 90" sh -c \
  "wine reg query '$chrome_policy' /v renewalWindowDays 2>/dev/null | grep -q 0x5a"
check "Edge's portalOrigins list has its first entry" sh -c \
  "wine reg query '$edge_policy\portalOrigins' /v 1 2>/dev/null | grep -q 'https://cis.example.nhs.uk'"
echo "   wine cycle took $(($(date +%s) - t1)) s"
finish
