#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when a command is missing:
# promtool (prometheus), prometheus-alertmanager, openssl, curl, mmdebstrap
# (the operator image's Debian layer, hack/build-image.sh), and the cluster
# profile's containerd, runc, CNI plugins, iptables, gcc, libc6-dev. Needs root
# (or sudo). The packaged services are never started: tests run Alertmanager
# by hand on loopback, containerd as a private child process of the test.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/versions.env
. "$HACK_DIR/versions.env"

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
# The cluster profile's node: containerd 1.6 + runc, CNI plugins, iptables
# for kube-proxy and the guard rules; gcc + libc6-dev link the pause binary.
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -eq 0 ]; then
  echo "[install-apt] $APT_PACKAGES: present"
  exit 0
fi
sudo=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[install-apt] ERROR: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "[install-apt] installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# policy-rc.d exit 101 keeps dpkg from starting the packaged daemons.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null; $sudo chmod +x /usr/sbin/policy-rc.d; fi
trap '[ $had_policy -eq 1 ] || $sudo rm -f /usr/sbin/policy-rc.d' EXIT
$sudo apt-get install -y -q --no-install-recommends "${need[@]}"
command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null && command -v mmdebstrap >/dev/null &&
  command -v containerd >/dev/null && command -v runc >/dev/null && command -v iptables >/dev/null && command -v gcc >/dev/null ||
  { echo "[install-apt] ERROR: still missing after install: $(for c in promtool prometheus-alertmanager mmdebstrap containerd runc iptables gcc; do command -v $c >/dev/null || printf '%s ' $c; done)" >&2; exit 1; }
