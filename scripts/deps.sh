#!/bin/sh
# Installs every Debian package ikeagent needs to build, test, run the demo
# and the benchmark. Needs root; runs apt-get update itself.
set -eu
PKGS="build-essential clang pkg-config libssl-dev libcurl4-openssl-dev libmnl-dev
check libsodium-dev
iproute2 iputils-ping nftables iptables iperf3 tinyproxy tshark xxd openssl procps
strongswan-charon strongswan-swanctl strongswan-pki libcharon-extra-plugins
libstrongswan-extra-plugins"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
# Debian starts strongSwan's system charon on install; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now strongswan-starter strongswan 2>/dev/null || true
fi
