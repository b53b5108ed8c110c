#!/usr/bin/env bash
# Builds the Linux package with dpkg-deb:
#
#   installer/linux/build-deb.sh [VERSION]   -> installer/out/cis-renew-host_VERSION_amd64.deb
#
# Contents: the host in /usr/lib/cis-renew (and a /usr/bin link for support staff), the system
# manifests for Chrome, Chromium, Edge and Firefox (written by the host's own `install --root`,
# so they come from the same table as everything else), and /etc/cis-renew/host.json as a
# conffile. CIS_RENEW_LINUX_EXE=PATH packages that binary instead of building one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
version=${1:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)}
out="$repo/installer/out"
pkg="$out/stage-deb-$version"

exe=${CIS_RENEW_LINUX_EXE:-}
if [ -z "$exe" ]; then
  (cd "$repo" && cargo build --quiet --release -p cis-renew-host)
  exe="$repo/target/release/cis-renew-host"
fi

rm -rf "$pkg"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/lib/cis-renew" "$pkg/usr/bin" "$pkg/etc/cis-renew" \
  "$pkg/usr/share/doc/cis-renew-host"
install -m 0755 "$exe" "$pkg/usr/lib/cis-renew/cis-renew-host"
ln -s ../lib/cis-renew/cis-renew-host "$pkg/usr/bin/cis-renew-host"
install -m 0644 "$repo/installer/linux/host.json" "$pkg/etc/cis-renew/host.json"
"$exe" install --system --root "$pkg" --exe /usr/lib/cis-renew/cis-renew-host >/dev/null
install -m 0644 "$repo/docs/deployment.md" "$pkg/usr/share/doc/cis-renew-host/deployment.md"

cat >"$pkg/DEBIAN/control" <<CONTROL
Package: cis-renew-host
Version: $version
Architecture: amd64
Maintainer: cis-renew maintainers <cis-renew-maintainers@digital.nhs.uk>
Section: utils
Priority: optional
Depends: libc6 (>= 2.34), libpcsclite1
Recommends: pcscd, opensc-pkcs11
Installed-Size: $(du -sk "$pkg" | cut -f1)
Description: renews NHS smartcard certificates from the CIS dashboard
 The native-messaging host of the cis-renew browser extension: Chrome, Chromium,
 Edge and Firefox start it to read the smartcard and renew its certificates.
 Run 'cis-renew-host doctor' to check an installation.
CONTROL
echo /etc/cis-renew/host.json >"$pkg/DEBIAN/conffiles"

deb="$out/cis-renew-host_${version}_amd64.deb"
dpkg-deb --build --root-owner-group "$pkg" "$deb" >/dev/null
echo "$deb"
