#!/usr/bin/env bash
# Installs everything cis-renew's build, tests and demo need on a fresh Debian machine.
# Idempotent: packages already present are skipped quickly. Needs root (CI and the demo run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pcscd libpcsclite-dev pcsc-tools opensc        # PC/SC daemon, headers for the pcsc crate, diagnostics
  vsmartcard-vpcd vsmartcard-vpicc               # virtual readers (vpcd) and virtual cards (vicc)
  python3-virtualsmartcard python3-pycryptodome  # vicc's runtime
  softhsm2                                       # the PKCS#11 module standing in for the card
  chromium                                       # the real browser for end-to-end tests
  firefox-esr                                    # the Firefox end-to-end tests (WebDriver BiDi built in)
  iproute2 util-linux openssl sqlite3 dpkg-dev   # namespaces, certificate checks, .deb building
  gcc-mingw-w64-x86-64 wixl msitools             # the Windows host build and the MSI
  wine wine64                                    # installs and runs the MSI in the installer tests
  libclang-dev yubico-piv-tool                   # the PIV test card's build (bindgen); its independent checks
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  rustup target list --installed | grep -q x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
fi

if [ -f extension/package.json ] || [ -f tests/e2e/package.json ]; then
  for dir in extension tests/e2e; do
    if [ -f "$dir/package.json" ]; then
      (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
fi
echo "install-deps: ready"
