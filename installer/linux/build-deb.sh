#!/usr/bin/env bash
# Builds the Linux package with dpkg-deb:
#
#   installer/linux/build-deb.sh [VERSION]   -> installer/out/cis-renew-host_VERSION_amd64.deb
#
# Contents: the host in /usr/lib/cis-renew (and a /usr/bin link for support staff), the system
# manifests for Chrome, Chromium, Edge and Firefox (written by the host's own `install --root`,
# so they come from the same table as everything else), the default config in
# /usr/share/cis-renew/host.json (postinst copies it to /etc/cis-renew/host.json only when there
# is none: IT's file is never replaced and no upgrade asks about it), copyright and changelog.
# Depends comes from dpkg-shlibdeps. The same inputs give the same bytes: every time stamp is
# SOURCE_DATE_EPOCH (default: the last commit's time). CIS_RENEW_LINUX_EXE=PATH packages that
# binary instead of building one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
version=${1:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)}
out="$repo/installer/out"
pkg="$out/stage-deb-$version"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 1700000000)}

exe=${CIS_RENEW_LINUX_EXE:-}
if [ -z "$exe" ]; then
  (cd "$repo" && cargo build --quiet --release -p cis-renew-host)
  exe="$repo/target/release/cis-renew-host"
fi

rm -rf "$pkg"
umask 022
doc="$pkg/usr/share/doc/cis-renew-host"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/lib/cis-renew" "$pkg/usr/bin" "$pkg/usr/share/cis-renew" "$doc" \
  "$pkg/usr/share/lintian/overrides"
# Stripped (lintian: unstripped-binary-or-object); debug symbols are not shipped.
install -m 0755 "$exe" "$pkg/usr/lib/cis-renew/cis-renew-host"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/lib/cis-renew/cis-renew-host"
ln -s ../lib/cis-renew/cis-renew-host "$pkg/usr/bin/cis-renew-host"
install -m 0644 "$repo/installer/linux/host.json" "$pkg/usr/share/cis-renew/host.json"
"$exe" install --system --root "$pkg" --exe /usr/lib/cis-renew/cis-renew-host >/dev/null
# `install --system` also claims /etc/cis-renew for the config; postinst makes it on the target.
rmdir "$pkg/etc/cis-renew"
gzip -9n <"$repo/docs/deployment.md" >"$doc/deployment.md.gz"
install -m 0644 "$repo/installer/linux/copyright" "$doc/copyright"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
# A native package (no Debian revision): changelog.gz.
cat <<CHANGELOG | gzip -9n >"$doc/changelog.gz"
cis-renew-host ($version) stable; urgency=medium

  * Release $version (the project's CHANGELOG.md lists the changes).

 -- cis-renew maintainers <cis-renew-maintainers@digital.nhs.uk>  $date
CHANGELOG
install -d -m 0755 "$pkg/usr/share/man/man1"
gzip -9n <"$repo/installer/linux/cis-renew-host.1" >"$pkg/usr/share/man/man1/cis-renew-host.1.gz"
install -m 0644 "$repo/installer/linux/lintian-overrides" "$pkg/usr/share/lintian/overrides/cis-renew-host"
install -m 0755 "$repo/installer/linux/postinst" "$pkg/DEBIAN/postinst"
install -m 0755 "$repo/installer/linux/postrm" "$pkg/DEBIAN/postrm"

# Depends from the binary's own libraries (dpkg-shlibdeps needs a debian/control to run in).
shlib=$(mktemp -d)
trap 'rm -rf "$shlib"' EXIT
mkdir -p "$shlib/debian"
printf 'Source: cis-renew-host\n\nPackage: cis-renew-host\nArchitecture: amd64\n' >"$shlib/debian/control"
depends=$(cd "$shlib" && dpkg-shlibdeps -O "$pkg/usr/lib/cis-renew/cis-renew-host" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat >"$pkg/DEBIAN/control" <<CONTROL
Package: cis-renew-host
Version: $version
Architecture: amd64
Maintainer: cis-renew maintainers <cis-renew-maintainers@digital.nhs.uk>
Section: utils
Priority: optional
Depends: $depends
Recommends: pcscd, opensc-pkcs11
Installed-Size: $(du -sk --apparent-size "$pkg" | cut -f1)
Homepage: https://digital.nhs.uk/services/care-identity-service
Description: renews NHS smartcard certificates from the CIS dashboard
 The native-messaging host of the cis-renew browser extension: Chrome, Chromium,
 Edge and Firefox start it to read the smartcard and renew its certificates.
 Run 'cis-renew-host doctor' to check an installation.
CONTROL
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control"
find "$pkg" -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/cis-renew-host_${version}_amd64.deb"
dpkg-deb --build --root-owner-group -Zxz "$pkg" "$deb" >/dev/null
echo "$deb"
