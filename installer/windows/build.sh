#!/usr/bin/env bash
# Builds the Windows MSI: cross-compiles the host for x86_64-pc-windows-gnu (mingw-w64), stages
# it with the committed Windows manifests and the default config, and runs wixl.
#
#   installer/windows/build.sh [VERSION]        -> installer/out/cis-renew-VERSION-x64.msi
#
# VERSION defaults to the host crate's version. CIS_RENEW_WIN_EXE=PATH packages that .exe instead
# of building one (the tests build once and package several versions).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
version=${1:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)}
out="$repo/installer/out"
stage="$out/stage-windows-$version"

exe=${CIS_RENEW_WIN_EXE:-}
if [ -z "$exe" ]; then
  (cd "$repo" && cargo build --quiet --release -p cis-renew-host --target x86_64-pc-windows-gnu)
  exe="$repo/target/x86_64-pc-windows-gnu/release/cis-renew-host.exe"
fi

rm -rf "$stage"
mkdir -p "$stage"
cp "$exe" "$stage/cis-renew-host.exe"

# Authenticode: with CIS_RENEW_SIGN_CERT (PEM certificate chain) and CIS_RENEW_SIGN_KEY (PEM key),
# the .exe is signed before it is packed and the MSI after it is built (osslsigncode, SHA-256;
# CIS_RENEW_SIGN_TIMESTAMP=URL adds an RFC 3161 timestamp).
sign() {
  [ -n "${CIS_RENEW_SIGN_CERT:-}" ] || return 0
  local file=$1 description=$2
  osslsigncode sign -certs "$CIS_RENEW_SIGN_CERT" -key "${CIS_RENEW_SIGN_KEY:?CIS_RENEW_SIGN_KEY is needed with CIS_RENEW_SIGN_CERT}" \
    -h sha256 -n "$description" -i "https://digital.nhs.uk/services/care-identity-service" \
    ${CIS_RENEW_SIGN_TIMESTAMP:+-ts "$CIS_RENEW_SIGN_TIMESTAMP"} -in "$file" -out "$file.signed" >/dev/null
  mv "$file.signed" "$file"
}
sign "$stage/cis-renew-host.exe" "cis-renew native host"
cp "$repo"/manifests/windows/{chrome,chromium,edge,firefox}.json "$stage/"
cp "$repo/installer/windows/host.json" "$stage/host.json"

msi="$out/cis-renew-$version-x64.msi"
# wixl resolves File/@Source against the .wxs's folder and rejects absolute paths: build from
# the stage folder.
cp "$repo/installer/windows/cis-renew.wxs" "$stage/"
(cd "$stage" && wixl -a x64 -D Version="$version" -D Stage=. -o "$msi" cis-renew.wxs)

# The folders' and the config's ACLs, set explicitly (wixl has no Permission element): owner
# Administrators, a protected DACL (nothing inherited from ProgramData, where users may create
# files), SYSTEM and Administrators full control, Users read and execute. The same descriptor as
# `cis-renew-host install --system` (host/src/deploy/secure_dir.rs).
sddl='O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)'
file_sddl='O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)'
printf '%s\t%s\t%s\t%s\t%s\r\n' \
  MsiLockPermissionsEx LockObject Table SDDL Condition \
  s72 s72 s32 s0 S255 \
  MsiLockPermissionsEx MsiLockPermissionsEx '' '' '' \
  LockInstallDir INSTALLDIR CreateFolder "$sddl" '' \
  LockConfigDir CONFIGDIR CreateFolder "$sddl" '' \
  LockDefaultConfig DefaultConfig File "$file_sddl" '' >"$stage/MsiLockPermissionsEx.idt"
# The table's own header row names only its key column.
sed -i '3s/\t\t\t\r$/\r/' "$stage/MsiLockPermissionsEx.idt"
msibuild "$msi" -i "$stage/MsiLockPermissionsEx.idt"

# What the .wxs asks for but wixl does not write (MajorUpgrade's Schedule, Component's
# NeverOverwrite and Permanent), set in the tables directly:
# - the old product is removed right after InstallInitialize, inside the transaction, so a
#   failed upgrade rolls back to the old product instead of leaving nothing;
# - the Apps entry names the install folder (ARPINSTALLLOCATION = INSTALLDIR, after CostFinalize);
# - host.json (Attributes 400 = 64-bit 256 | NeverOverwrite 128 | Permanent 16) is never replaced
#   when one is there, and removing the old product does not take it: IT's settings survive
#   every upgrade, and an uninstall leaves them, as dpkg -r leaves /etc.
# - a rebuild of the same version replaces the installed one (AllowSameVersionUpgrades: the
#   upgrade row's VersionMax is inclusive, 1 MigrateFeatures | 512 VersionMaxInclusive), so two
#   builds of one version never sit side by side; the downgrade row stays exclusive.
upgrade_code=$(msiinfo export "$msi" Property | tr -d '\r' | awk -F'\t' '$1 == "UpgradeCode" {print $2}')
queries=(
  "UPDATE InstallExecuteSequence SET Sequence = 1501 WHERE Action = 'RemoveExistingProducts'"
  "UPDATE Component SET Attributes = 400 WHERE Component = 'DefaultConfig'"
  "INSERT INTO CustomAction (Action, Type, Source, Target) VALUES ('SetArpInstallLocation', 51, 'ARPINSTALLLOCATION', '[INSTALLDIR]')"
  "INSERT INTO InstallExecuteSequence (Action, Sequence) VALUES ('SetArpInstallLocation', 1001)"
  # (Attributes is part of the Upgrade table's key: the row is replaced, not updated.)
  "DELETE FROM Upgrade WHERE ActionProperty = 'WIX_UPGRADE_DETECTED'"
  "INSERT INTO Upgrade (UpgradeCode, VersionMax, Attributes, ActionProperty) VALUES ('$upgrade_code', '$version', 513, 'WIX_UPGRADE_DETECTED')"
  "UPDATE Property SET Value = 'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;PKCS11MODULE;MANAGEDREADER;TRUSTANCHORS;EXTENSIONIDS' WHERE Property = 'SecureCustomProperties'"
)
# IT's settings (docs/deployment.md, "MSI properties"). For each property P:
# - its component (SettingX, a value under HKLM\Software\cis-renew) is installed only when P is
#   set (wixl has no Component/Condition);
# - AppSearch (50) reads the remembered value into P, which would overwrite a value given on the
#   command line: P given is saved before AppSearch (49) and put back after it (51), in both
#   sequences. So: given now wins, else the last install's value, else nothing.
for setting in PKCS11MODULE:Pkcs11Module MANAGEDREADER:ManagedReader TRUSTANCHORS:TrustAnchors EXTENSIONIDS:ExtensionIds; do
  p=${setting%%:*} name=${setting#*:}
  queries+=(
    "UPDATE Component SET Condition = '$p' WHERE Component = 'Setting$name'"
    "INSERT INTO CustomAction (Action, Type, Source, Target) VALUES ('Keep${name}Given', 51, 'GIVEN_$p', '[$p]')"
    "INSERT INTO CustomAction (Action, Type, Source, Target) VALUES ('Use${name}Given', 51, '$p', '[GIVEN_$p]')"
  )
  for table in InstallExecuteSequence InstallUISequence; do
    queries+=(
      "INSERT INTO $table (Action, Condition, Sequence) VALUES ('Keep${name}Given', '$p', 49)"
      "INSERT INTO $table (Action, Condition, Sequence) VALUES ('Use${name}Given', 'GIVEN_$p', 51)"
    )
  done
done
# EXTENSIONIDS also goes into the manifests' allowed_origins: once the files are in place, the
# installed host rewrites them (its `manifests` command, the same code as every other manifest).
# Type 3106 = 34 (an .exe, run in INSTALLDIR) | 1024 deferred (in the install script, with the
# files there) | 2048 no impersonation (as SYSTEM, which may write INSTALLDIR). A bad ID makes it
# fail and the whole install roll back. "[INSTALLDIR]." keeps the folder's trailing backslash
# from escaping the quote.
manifests_cmd='"[INSTALLDIR]cis-renew-host.exe" manifests --os windows --out "[INSTALLDIR]." --extension-ids "[EXTENSIONIDS]"'
queries+=(
  "INSERT INTO CustomAction (Action, Type, Source, Target) VALUES ('WriteManifestsForExtensionIds', 3106, 'INSTALLDIR', '$manifests_cmd')"
  "INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES ('WriteManifestsForExtensionIds', 'EXTENSIONIDS AND NOT REMOVE~=\"ALL\"', 5100)"
)
for query in "${queries[@]}"; do
  msibuild "$msi" -q "$query" >/dev/null || { echo "build.sh: msibuild failed: $query" >&2; exit 1; }
done

sign "$msi" "cis-renew native host $version"
echo "$msi"
