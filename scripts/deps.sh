#!/bin/sh
# Installs every Debian 12 package ikeagent needs to build, test, run the
# demo and the benchmark. Needs root; runs apt-get update itself. Nothing
# may be missing here: `.ci/run` runs the tests on a fresh Debian root
# (scripts/fresh-root), where only what this script installs exists.
set -eu

# Building ikeagent and ikerelay. libcurl4 is what ikeagent needs at run time
# (libcurl.so.4, loaded with dlopen when a proxy is used, not linked);
# libcurl4-openssl-dev depends on it, named here so it is not missed.
BUILD="build-essential pkg-config libssl-dev libcurl4-openssl-dev libcurl4 libmnl-dev libcap-ng-dev"
# The NetworkManager VPN plugin service (nm/): libnm with its VPN plugin
# headers, GLib, json-glib for ikeagent's events. Without them `make` skips it.
NM="libnm-dev network-manager-dev libglib2.0-dev libjson-glib-dev"
# Unit tests (Check), cross-checks (libsodium), fuzz targets (clang with its
# libFuzzer runtime, only a Recommends of clang), man page lint, unit files.
TEST="check libsodium-dev clang libclang-rt-14-dev mandoc systemd"
# The testbed, network tests, demo and bench: namespaces, a hostile network,
# a real strongSwan gateway (libstrongswan-standard-plugins has its openssl
# plugin: AES-GCM; libcharon-extauth-plugins its eap-mschapv2,
# libcharon-extra-plugins eap-identity, eap-tls with libtls and
# kernel-libipsec), a real CONNECT proxy, traffic and captures. python3 runs
# the tests' small helpers; script(1) (bsdutils) gives ikeagent a terminal
# to ask a password on (test_tunnel_eap.sh). NetworkManager with its own
# system bus (dbus) drives the VPN plugins in tests/net/lib_nm.sh; its
# reference plugin NetworkManager-strongswan (charon-nm) proves that harness
# (test_nm_strongswan.sh). Installing them starts nothing without systemd.
NET="iproute2 iputils-ping nftables iptables iperf3 tinyproxy tshark curl python3 xxd openssl
procps util-linux bsdutils
strongswan-charon strongswan-swanctl strongswan-pki libcharon-extra-plugins
libcharon-extauth-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins
network-manager dbus network-manager-strongswan strongswan-nm"

PKGS="$BUILD $NM $TEST $NET"
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
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# Debian starts strongSwan's system charon on install; the tests run their own.
if [ -d /run/systemd/system ]; then
	systemctl disable --now strongswan-starter strongswan 2>/dev/null || true
fi
