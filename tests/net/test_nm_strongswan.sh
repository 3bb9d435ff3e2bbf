#!/usr/bin/env bash
# The NetworkManager harness (tests/net/lib_nm.sh) proven with the reference
# VPN plugin, NetworkManager-strongswan (charon-nm), against the testbed's
# strongSwan gateway (PSK):
#   1. NetworkManager in ika-cli manages the uplink; the base connection is
#      activated with the testbed's address and default route
#   2. a strongswan VPN connection (method psk, virtual IP) comes up with
#      `nmcli connection up`; NM shows it activated with a 10.99.100.x
#      address, NM's private resolv.conf has the gateway's DNS, and
#      10.99.1.2 answers a ping through it
#   3. `nmcli connection down`: the inside host is unreachable again
# charon-nm gets its own strongswan.conf (STRONGSWAN_CONF in NM's
# environment reaches the plugin): kernel-libipsec for ESP (this kernel has
# no xfrm), no resolve/updown plugins.
# Exit 0 pass, 77 skip (not root, no netns/strongSwan/NetworkManager/
# charon-nm), 1 fail.
# Usage: sh tests/net/test_nm_strongswan.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_nm_strongswan
TB_PREFIX=${TB_PREFIX:-iknm}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
# shellcheck source=tests/net/lib_nm.sh
. "$(dirname "$0")/lib_nm.sh"
la_init "${1:-build}"
nm_init
CHARON_NM=/usr/lib/ipsec/charon-nm
[ -x "$CHARON_NM" ] || la_skip "no $CHARON_NM (strongswan-nm)"
[ -f "$NM_VPN_SYSDIR/nm-strongswan-service.name" ] || la_skip "no nm-strongswan-service.name (network-manager-strongswan)"

la_up psk

# charon-nm's strongswan.conf (only the charon-nm section is read).
cat >"$WORK/charon-nm.conf" <<EOF
charon-nm {
    load_modular = no
    load = random nonce aes sha1 sha2 md5 hmac gcm chapoly curve25519 gmp openssl x509 pkcs1 pkcs8 pem pubkey revocation constraints kdf xcbc cmac eap-identity eap-mschapv2 attr kernel-libipsec kernel-netlink socket-default
    filelog {
        nm {
            path = $WORK/charon-nm.log
            time_format = %H:%M:%S
            append = no
            flush_line = yes
            default = 1
            ike = 2
            cfg = 2
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
    plugins {
        kernel-libipsec {
            load = yes
        }
    }
}
EOF
NM_EXTRA_ENV=(STRONGSWAN_CONF="$WORK/charon-nm.conf")
nm_up
echo "$LA_NAME: NetworkManager up, base connection activated in $NM_UP_MS ms"

T=$WORK/transcript
{
	echo "\$ nmcli connection add type vpn vpn-type strongswan con-name ref ..."
	nm_cli connection add type vpn vpn-type strongswan con-name ref autoconnect no \
		vpn.data "address=$TB_GW_ADDR, method=psk, user=$TB_CLI_ID, remote-identity=$TB_GW_ID, virtual=yes, encap=yes, ipcomp=no, proposal=no" \
		vpn.secrets "password=$TB_PSK" 2>&1
} >"$T"
t0=$(la_now_ms)
echo "\$ nmcli --wait 30 connection up ref" >>"$T"
nm_cli --wait "$(la_dl 30)" connection up ref >>"$T" 2>&1 ||
	nm_fail "strongswan up: nmcli failed: $(tail -n 2 "$T" | tr '\n' ' ') (charon-nm log: $(tail -n 5 "$WORK/charon-nm.log" 2>/dev/null | tr '\n' ' '))"
t_up=$(( $(la_now_ms) - t0 ))
{
	echo "\$ nmcli -f GENERAL.STATE,GENERAL.VPN,IP4.ADDRESS,IP4.DNS connection show ref"
	nm_cli -f GENERAL.STATE,GENERAL.VPN,IP4.ADDRESS,IP4.DNS connection show ref
} >>"$T" 2>&1
nm_vpn_activated ref || nm_fail "strongswan up: not an activated VPN: $(nm_cli -g GENERAL.VPN,GENERAL.STATE connection show ref | tr '\n' ' ')"
addr=$(nm_cli -g IP4.ADDRESS connection show ref)
case $addr in 10.99.100.*) ;; *) nm_fail "strongswan up: no virtual IP from the pool in IP4.ADDRESS: '$addr'" ;; esac
nm_resolv | grep -q '^nameserver 10\.99\.1\.53$' ||
	nm_fail "strongswan up: NM's resolv.conf lacks the gateway's DNS: $(nm_resolv | tr '\n' ' ')"
la_ping_inside || nm_fail "strongswan up: no ping to $TB_IN_ADDR through the tunnel"
echo "\$ nmcli connection down ref" >>"$T"
nm_cli connection down ref >>"$T" 2>&1 || nm_fail "strongswan down: nmcli failed"
tb_wait_for "! tb_ping cli $TB_IN_ADDR" "$(la_dl 5)" || nm_fail "strongswan down: inside host still reachable"
echo "$LA_NAME: nmcli transcript:"
sed 's/^/    /' "$T"
nm_down
la_pass "NM + base connection $NM_UP_MS ms, charon-nm up $t_up ms, virtual IP ${addr%%/*}"
