#!/usr/bin/env bash
# Issue 7: validate the Prometheus alerting/recording rules and their unit tests with promtool.
#
# Called by .ci/run as:   bash .ci/prometheus_checks.sh
# (from any directory; needs root or passwordless apt only when promtool is missing).
#
# promtool comes from Debian's `prometheus` package. Installing that package must not leave a
# Prometheus server (or the recommended node exporter) running: a policy-rc.d that forbids service
# starts is put in place for the duration of the install when the machine has none, recommends are
# not installed, and the script fails loudly if a prometheus daemon is found running afterwards.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

install_promtool() {
    local sudo="" policy=/usr/sbin/policy-rc.d created_policy=0
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "prometheus_checks: need root or sudo to install prometheus" >&2; exit 1; }
        sudo="sudo -n"
    fi
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary: forbid service starts while .ci/prometheus_checks.sh installs prometheus\nexit 101\n' |
            $sudo tee "$policy" >/dev/null
        $sudo chmod 0755 "$policy"
        created_policy=1
    fi
    local rc=0
    {
        $sudo apt-get update -qq &&
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    } >/tmp/prometheus_checks_apt.log 2>&1 || rc=$?
    if [ "$created_policy" = 1 ]; then
        $sudo rm -f "$policy"
    fi
    if [ "$rc" != 0 ]; then
        tail -n 30 /tmp/prometheus_checks_apt.log >&2
        echo "prometheus_checks: apt-get install prometheus failed (rc=$rc)" >&2
        exit "$rc"
    fi
    # On a host with systemd the unit is enabled by the package: keep it disabled.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    if [ -r /run/prometheus.pid ] || { command -v pgrep >/dev/null 2>&1 && pgrep -x prometheus >/dev/null 2>&1; }; then
        echo "prometheus_checks: a prometheus daemon is running after the install; refusing to continue" >&2
        exit 1
    fi
}

if ! command -v promtool >/dev/null 2>&1; then
    echo "prometheus_checks: promtool not found, installing Debian's prometheus package"
    install_promtool
fi

promtool --version 2>&1 | head -n 1
echo "== promtool check rules"
promtool check rules prometheus/rules/*.yaml
echo "== promtool check config (example scrape configuration)"
# The example reads the /metrics bearer token from prometheus/cadml_metrics_token, which is never committed:
# check a copy of the folder with a throwaway token file beside it.
checkdir="$(mktemp -d)"
trap 'rm -rf "$checkdir"' EXIT
cp -r prometheus/. "$checkdir/"
( umask 077 && head -c 32 /dev/urandom | base64 > "$checkdir/cadml_metrics_token" )
promtool check config "$checkdir/prometheus.yml"
echo "== promtool test rules"
promtool test rules prometheus/tests/*.yaml
echo "prometheus_checks: OK"
