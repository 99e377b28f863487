#!/usr/bin/env bash
# Installs the Debian packages that the interoperability tests (test/interop/) drive:
# curl (--digest), apache2 + apache2-utils (mod_auth_digest, htdigest) and python3-requests
# (HTTPDigestAuth, run through /usr/bin/python3), python3-cryptography (the secure channel vectors
# recomputed independently), spin + gcc (the Promela model of spec/promela/ checked by SPIN),
# redis-server (the Node fleet tests of test/fleet/ start their own, issue #11).
# Idempotent: installs only what is missing and
# runs `apt-get update` at most once, and only when something is missing.
set -euo pipefail

packages=(curl apache2 apache2-utils python3-requests python3-cryptography chromium firefox-esr spin gcc redis-server)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-debian: all present (${packages[*]})"
  exit 0
fi

echo "install-debian: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian's apache2 postinst may start the system service; the tests start their own instance on
# a random port, so a running system apache is harmless but not needed.
echo "install-debian: done"
