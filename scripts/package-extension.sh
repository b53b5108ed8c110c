#!/usr/bin/env bash
# Packs the extension for every way IT installs it (docs/deployment.md, "Packaging the extension").
#
#   scripts/package-extension.sh --key KEY.pem --out DIR [--update-url URL]
#
# KEY.pem: the RSA private key that fixes the Chromium ID (openssl genrsa -out KEY.pem 2048; keep
# it secret and never commit it). URL: where DIR/updates.xml will be served, e.g.
# https://it.example.nhs.uk/cis-renew/updates.xml; the CRX is expected beside it.
# Writes, with VERSION from extension/manifest.json:
#   DIR/cis-renew-VERSION.crx  CRX3 signed with KEY (self-hosting, ExtensionInstallForcelist)
#   DIR/updates.xml            the update manifest naming the ID, VERSION and the CRX's URL
#   DIR/cis-renew-VERSION.zip  for the Chrome Web Store and Edge Add-ons (no "key")
#   DIR/cis-renew-VERSION.xpi  for AMO's signing (web-ext sign), then Firefox
# and prints the Chromium ID on its last line. The zips are reproducible (SOURCE_DATE_EPOCH sets
# their timestamps). Exit 2: bad arguments or key.
set -euo pipefail
exec node "$(dirname "$0")/lib/package-extension.mjs" "$@"
