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
cp "$repo"/manifests/windows/{chrome,chromium,edge,firefox}.json "$stage/"
cp "$repo/installer/windows/host.json" "$stage/host.json"

msi="$out/cis-renew-$version-x64.msi"
# wixl resolves File/@Source against the .wxs's folder and rejects absolute paths: build from
# the stage folder.
cp "$repo/installer/windows/cis-renew.wxs" "$stage/"
(cd "$stage" && wixl -a x64 -D Version="$version" -D Stage=. -o "$msi" cis-renew.wxs)

echo "$msi"
