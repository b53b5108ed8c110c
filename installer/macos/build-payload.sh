#!/usr/bin/env bash
# Builds the macOS package's payload tree and scripts (the .pkg itself needs pkgbuild, which
# only runs on macOS):
#
#   installer/macos/build-payload.sh MAC_BINARY [VERSION]
#     -> installer/out/macos-VERSION/{payload,scripts}/ and build-pkg.sh to run on a Mac
#
# MAC_BINARY is the host built for macOS (cargo build --release -p cis-renew-host on a Mac, or
# lipo of the x86_64 and aarch64 builds). The manifests are staged by the host's own
# `install --os macos --root`, from the same table the host uses; a Linux build of the host
# runs that step here (CIS_RENEW_LINUX_EXE, else one built now).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
mac_binary=${1:?usage: build-payload.sh MAC_BINARY [VERSION]}
version=${2:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)}
out="$repo/installer/out/macos-$version"
payload="$out/payload"
app="$payload/Library/Application Support/cis-renew"

tool=${CIS_RENEW_LINUX_EXE:-}
if [ -z "$tool" ]; then
  (cd "$repo" && cargo build --quiet --release -p cis-renew-host)
  tool="$repo/target/release/cis-renew-host"
fi

rm -rf "$out"
install -d -m 0755 "$app" "$out/scripts"
install -m 0755 "$mac_binary" "$app/cis-renew-host"
install -m 0644 "$repo/installer/macos/host.json" "$app/host.json.default"
install -m 0755 "$repo/installer/macos/uninstall.sh" "$app/uninstall.sh"
"$tool" install --os macos --system --root "$payload" --exe "/Library/Application Support/cis-renew/cis-renew-host" >/dev/null
install -m 0755 "$repo/installer/macos/scripts/postinstall" "$out/scripts/postinstall"

cat >"$out/build-pkg.sh" <<PKG
#!/bin/sh
# Run on a Mac, in this folder. Sign with productsign and notarise before shipping.
set -eu
cd "\$(dirname "\$0")"
pkgbuild --root payload --scripts scripts --identifier uk.nhs.cis-renew.host \\
  --version $version --install-location / cis-renew-host-$version.pkg
PKG
chmod 0755 "$out/build-pkg.sh"
echo "$out"
