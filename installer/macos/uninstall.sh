#!/bin/sh
# Removes the cis-renew native host from a Mac (macOS packages have no uninstaller).
# Run as root: sudo "/Library/Application Support/cis-renew/uninstall.sh"
set -eu
dir="/Library/Application Support/cis-renew"
if [ -x "$dir/cis-renew-host" ]; then
  "$dir/cis-renew-host" uninstall --system
fi
rm -rf "$dir"
pkgutil --forget uk.nhs.cis-renew.host >/dev/null 2>&1 || true
