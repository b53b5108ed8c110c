#!/usr/bin/env bash
# Installs what cis-renew needs on a fresh Debian machine, in two sets:
#   install-deps.sh demo   what scripts/demo.sh needs: the test bed, the host build, Chromium and
#                          the e2e driver (no Firefox, no Windows cross-build, no Wine)
#   install-deps.sh test   (the default) the demo set plus what the whole test run needs: Firefox,
#                          the Windows host build and MSI tools, Wine, .deb tools, the unit-test npm
#                          packages
# Idempotent: packages already present are skipped quickly. Needs root (CI and the demo run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

SET="${1:-test}"
case "$SET" in
  demo | test) ;;
  *) echo "usage: install-deps.sh [demo|test]" >&2; exit 2 ;;
esac

# The demo set.
APT_PACKAGES=(
  pcscd libpcsclite-dev pcsc-tools opensc        # PC/SC daemon, headers for the pcsc crate, diagnostics
  vsmartcard-vpcd vsmartcard-vpicc               # virtual readers (vpcd) and virtual cards (vicc)
  python3-virtualsmartcard python3-pycryptodome  # vicc's runtime
  softhsm2                                       # the PKCS#11 module standing in for the card
  chromium                                       # the real browser for the demo and the end-to-end tests
  iproute2 util-linux openssl                    # namespaces, certificate checks
)

# Only the tests need these.
TEST_PACKAGES=(
  firefox-esr                                    # the Firefox end-to-end tests (WebDriver BiDi built in)
  sqlite3 dpkg-dev                               # store checks, .deb building
  gcc-mingw-w64-x86-64 wixl msitools             # the Windows host build and the MSI
  binutils-mingw-w64-x86-64                      # windres: the VERSIONINFO in the Windows exe (host/build.rs)
  wine wine64                                    # installs and runs the MSI in the installer tests
  libclang-dev yubico-piv-tool                   # the PIV test card's build (bindgen); its independent checks
)
if [ "$SET" = test ]; then
  APT_PACKAGES+=("${TEST_PACKAGES[@]}")
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$SET" = test ] && command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  rustup target list --installed | grep -q x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
fi

# The demo drives Chromium with tests/e2e's packages; the extension's (jsdom) are for unit tests.
NPM_DIRS=(tests/e2e)
if [ "$SET" = test ]; then
  NPM_DIRS=(extension tests/e2e)
fi
for dir in "${NPM_DIRS[@]}"; do
  if [ -f "$dir/package.json" ]; then
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
done
echo "install-deps ($SET): ready"
