#!/usr/bin/env bash
# Issue 17: the browser tests (tests/browser/) drive Debian's headless chromium through chromium-driver with Selenium.
# Installs both when /usr/bin/chromium or /usr/bin/chromedriver is missing (idempotent; needs root or passwordless
# sudo only then). Called by `make test` (target `browser`).
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
echo "browser_deps: chromium or chromedriver not found, installing Debian's chromium and chromium-driver"
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "browser_deps: need root or sudo to install chromium" >&2; exit 1; }
    sudo="sudo -n"
fi
rc=0
{
    $sudo apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
} >/tmp/browser_deps_apt.log 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
    tail -n 30 /tmp/browser_deps_apt.log >&2
    echo "browser_deps: apt-get install chromium chromium-driver failed (rc=$rc)" >&2
    exit "$rc"
fi
/usr/bin/chromium --version
