# shellcheck shell=bash disable=SC2034,SC2016
# A real NetworkManager (1.42, Debian 12) in the testbed's client namespace,
# for the tests of a VPN plugin (the ikeagent plugin; NetworkManager-
# strongswan as the reference). bash; sourced after lib_agent.sh and
# la_init, never run. See /work/shared/NM-TESTING.md for why each piece is
# there (measured facts), in short:
#
#   - its own system bus: a dbus-daemon (<type>system</type>) listening on a
#     socket in $NM_DIR; everything talks to it through
#     DBUS_SYSTEM_BUS_ADDRESS (the host has no system bus: keep it so)
#   - /sys read-only in NM's mount namespace (else it waits for udev forever)
#   - private /run, /var/lib/NetworkManager and configuration; it manages
#     only the uplink veth ($TB_IF_CLI); resolv.conf goes to its private
#     /run/NetworkManager/resolv.conf (rc-manager=unmanaged)
#   - a private copy of /usr/lib/NetworkManager/VPN (Debian's .name files and
#     the ikeagent plugin's, program= pointing into the build tree),
#     bind-mounted for NetworkManager and for every nmcli
#
# API:
#   nm_init                 skip (77) without NetworkManager/nmcli/dbus-daemon;
#                           after la_init (sets NM_* paths; nothing started)
#   nm_up                   after la_up/lt_up: bus, NetworkManager, the base
#                           connection "uplink" on $TB_IF_CLI activated
#                           (NM_UP_MS); NM_EXTRA_ENV=(K=V ...) more
#                           environment for NetworkManager (and so its plugins)
#   nm_cli ARGS...          nmcli in the client namespace on the private bus
#   nm_log                  path of NetworkManager's log (its stderr, with the
#                           plugins' stderr: NM spawns them with its own fds)
#   nm_log_wait ERE SECONDS a line of NM's log matches
#   nm_con_state NAME       GENERAL.STATE ("activated", ...; empty: inactive)
#   nm_vpn_activated NAME   0 if NAME is an active VPN (GENERAL.VPN yes) in
#                           state activated. (nmcli 1.42 has no usable
#                           VPN.VPN-STATE field for `connection show NAME`:
#                           "VPN" matches the vpn setting first.)
#   nm_resolv               NM's private resolv.conf (contents)
#   nm_kill SIGNAL          signal NetworkManager (NM_PID)
#   nm_down                 stop NetworkManager and the bus (TERM, then KILL)
#   nm_fail "one line"      la_fail with the tail of NM's log
# Leftovers of a failed earlier run need nothing special: NetworkManager, the
# bus, plugins and agents all run in the client namespace and die with it
# (tb_up / tb_down kill every process there), the mounts live in mount
# namespaces of those processes, and $NM_DIR is under $WORK.

NM_VPN_SYSDIR=/usr/lib/NetworkManager/VPN

nm_init() {
	local t
	for t in NetworkManager nmcli dbus-daemon; do
		command -v "$t" >/dev/null 2>&1 || la_skip "no $t (network-manager dbus: scripts/deps.sh)"
	done
	[ -d "$NM_VPN_SYSDIR" ] || la_skip "no $NM_VPN_SYSDIR (network-manager)"
	[ -d /var/lib/NetworkManager ] || la_skip "no /var/lib/NetworkManager (network-manager)"
	NM_PID=""
	NM_BUS_PID=""
	NM_DIR=""
	NM_SERVICE=$LA_BIN/nm-ikeagent-service
	[ -n "${NM_EXTRA_ENV+x}" ] || NM_EXTRA_ENV=()
}

nm_log() { echo "$NM_DIR/nm.log"; }

nm_fail() {
	if [ -n "$NM_DIR" ] && [ -s "$NM_DIR/nm.log" ]; then
		echo "---- last lines of NetworkManager's log ($NM_DIR/nm.log)"
		grep -v -E '<(debug|trace)>' "$NM_DIR/nm.log" | tail -n 40
	fi
	la_fail "$@"
}

# ---- private files ---------------------------------------------------------------

# The bus: Debian's system bus policy, root only, no activation, no syslog.
nm__bus_conf() {
	local d=$NM_DIR/dbus
	mkdir -p "$d/system.d"
	# The plugin's policy (root may own and call its name), when it exists.
	[ -f "$LA_ROOT/nm/nm-ikeagent-service.conf" ] && cp "$LA_ROOT/nm/nm-ikeagent-service.conf" "$d/system.d/"
	cat >"$d/bus.conf" <<-EOF
		<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
		 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
		<busconfig>
		  <type>system</type>
		  <auth>EXTERNAL</auth>
		  <listen>unix:path=$d/system_bus_socket</listen>
		  <policy context="default">
		    <allow user="root"/>
		    <deny own="*"/>
		    <deny send_type="method_call"/>
		    <allow send_type="signal"/>
		    <allow send_requested_reply="true" send_type="method_return"/>
		    <allow send_requested_reply="true" send_type="error"/>
		    <allow receive_type="method_call"/>
		    <allow receive_type="method_return"/>
		    <allow receive_type="error"/>
		    <allow receive_type="signal"/>
		    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
		    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
		    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
		  </policy>
		  <includedir>/usr/share/dbus-1/system.d</includedir>
		  <includedir>$d/system.d</includedir>
		</busconfig>
	EOF
	NM_BUS=unix:path=$d/system_bus_socket
}

# NetworkManager.conf: keyfiles in $NM_DIR, only the uplink managed, nothing
# written outside its private /run (resolv.conf, hostname), no polkit, no
# connectivity checks.
nm__conf() {
	mkdir -p "$NM_DIR"/{run,lib,conf.d,sysconf.d,keyfiles,vpn}
	chmod 700 "$NM_DIR/keyfiles"
	cat >"$NM_DIR/NetworkManager.conf" <<-EOF
		[main]
		plugins=keyfile
		no-auto-default=*
		rc-manager=unmanaged
		dns=default
		hostname-mode=none
		auth-polkit=false
		dhcp=internal

		[keyfile]
		path=$NM_DIR/keyfiles
		unmanaged-devices=except:interface-name:$TB_IF_CLI

		[connectivity]
		enabled=false

		[logging]
		level=INFO
		domains=ALL,VPN:DEBUG,VPN_PLUGIN:DEBUG
	EOF
}

# The VPN plugin directory: Debian's .name files and the ikeagent plugin's
# (nm/nm-ikeagent-service.name.in with program= the build tree's service).
nm__vpn_dir() {
	local f=$LA_ROOT/nm/nm-ikeagent-service.name.in
	cp "$NM_VPN_SYSDIR"/*.name "$NM_DIR/vpn/" 2>/dev/null
	if [ -f "$f" ]; then
		sed -e "s|^program=.*|program=$NM_SERVICE|" \
			-e "s|^auth-dialog=.*|auth-dialog=${NM_SERVICE%/*}/nm-ikeagent-auth-dialog|" \
			"$f" >"$NM_DIR/vpn/nm-ikeagent-service.name"
		grep -q "^program=$NM_SERVICE\$" "$NM_DIR/vpn/nm-ikeagent-service.name" ||
			la_fail "nm: $f has no program= line to point at $NM_SERVICE"
	fi
}

# ---- processes -------------------------------------------------------------------

# nm__bg LOG CMD...: CMD in the client namespace, in the background, without
# the testbed lock (as tb__bg).
nm__bg() {
	local log=$1
	shift
	if [ -n "${TB_LOCK_FD:-}" ]; then
		ip netns exec "$TB_NS_CLI" "$@" >"$log" 2>&1 </dev/null {TB_LOCK_FD}>&- &
	else
		ip netns exec "$TB_NS_CLI" "$@" >"$log" 2>&1 </dev/null &
	fi
	NM_BG_PID=$!
}

nm__bus_up() {
	nm__bg "$NM_DIR/dbus.log" dbus-daemon --config-file="$NM_DIR/dbus/bus.conf" --nofork --nopidfile
	NM_BUS_PID=$NM_BG_PID
	tb_wait_for "[ -S '$NM_DIR/dbus/system_bus_socket' ] || ! kill -0 $NM_BUS_PID 2>/dev/null" 5
	[ -S "$NM_DIR/dbus/system_bus_socket" ] ||
		la_fail "nm: dbus-daemon did not start: $(tail -n 3 "$NM_DIR/dbus.log" | tr '\n' ' ')"
}

# NetworkManager in its own mount namespace (ip netns exec gives one): /sys
# read-only, private /run, /var/lib/NetworkManager and VPN directory.
nm__nm_up() {
	local -a envs=(DBUS_SYSTEM_BUS_ADDRESS="$NM_BUS" IKEAGENT_BIN="$IKA"
		${NM_EXTRA_ENV[@]+"${NM_EXTRA_ENV[@]}"})
	nm__bg "$NM_DIR/nm.log" env "${envs[@]}" sh -c '
		d=$1
		mount -o remount,bind,ro /sys &&
		mount --bind "$d/run" /run &&
		mount --bind "$d/lib" /var/lib/NetworkManager &&
		mount --bind "$d/vpn" "$2" || exit 97
		exec NetworkManager --debug --config "$d/NetworkManager.conf" \
			--config-dir "$d/conf.d" --system-config-dir "$d/sysconf.d" \
			--intern-config "$d/lib/NetworkManager-intern.conf" \
			--state-file "$d/lib/NetworkManager.state" \
			--pid-file "$d/run/NetworkManager.pid"' nm "$NM_DIR" "$NM_VPN_SYSDIR"
	NM_PID=$NM_BG_PID
	# Up: answering on the bus; the uplink managed (with /sys writable it
	# would stay "unmanaged" and nothing would say why).
	tb_wait_for "nm_cli -t -f RUNNING general status 2>/dev/null | grep -q running || ! kill -0 $NM_PID 2>/dev/null" \
		"$(la_dl 15)"
	kill -0 "$NM_PID" 2>/dev/null || nm_fail "nm: NetworkManager exited at start"
	tb_wait_for "nm__dev_state | grep -q -v -E '^(unmanaged|)\$'" "$(la_dl 10)" ||
		nm_fail "nm: $TB_IF_CLI stays '$(nm__dev_state)' (is /sys read-only for NetworkManager?)"
}

nm__dev_state() { nm_cli -g GENERAL.STATE device show "$TB_IF_CLI" 2>/dev/null | sed 's/^[0-9]* (\(.*\))$/\1/'; }

# nm_cli ARGS...: nmcli on the private bus, in the client namespace, with the
# private VPN directory (nmcli maps vpn-type to the service by its .name file).
nm_cli() {
	ip netns exec "$TB_NS_CLI" env DBUS_SYSTEM_BUS_ADDRESS="$NM_BUS" sh -c '
		mount --bind "$1" "$2" || exit 97
		shift 2
		exec nmcli "$@"' nmcli "$NM_DIR/vpn" "$NM_VPN_SYSDIR" "$@"
}

# nm_up: everything above, then the base connection "uplink": the testbed's
# address and default route on $TB_IF_CLI, now owned by NetworkManager (the
# testbed's own are removed first, so what is there afterwards is NM's).
nm_up() {
	[ -n "$WORK" ] || la_fail "nm_up: no \$WORK (la_up first)"
	NM_DIR=$WORK/nm
	rm -rf "$NM_DIR"
	mkdir -p "$NM_DIR"
	local t0
	t0=$(la_now_ms)
	nm__bus_conf
	nm__conf
	nm__vpn_dir
	ip -n "$TB_NS_CLI" -4 addr flush dev "$TB_IF_CLI"
	ip -n "$TB_NS_CLI" -4 route flush dev "$TB_IF_CLI"
	nm__bus_up
	nm__nm_up
	nm_cli connection add type ethernet ifname "$TB_IF_CLI" con-name uplink autoconnect no \
		ipv4.method manual ipv4.addresses "$TB_CLI_ADDR/24" ipv4.gateway "$TB_GW_ADDR" \
		ipv6.method disabled >"$NM_DIR/uplink-add.out" 2>&1 ||
		nm_fail "nm: adding the base connection: $(tr '\n' ' ' <"$NM_DIR/uplink-add.out")"
	nm_cli --wait "$(la_dl 20)" connection up uplink >"$NM_DIR/uplink-up.out" 2>&1 ||
		nm_fail "nm: the base connection did not come up: $(tr '\n' ' ' <"$NM_DIR/uplink-up.out")"
	[ "$(nm_con_state uplink)" = activated ] || nm_fail "nm: base connection: $(nm_con_state uplink)"
	tb_wait_for "ip -n $TB_NS_CLI route show default | grep -q 'via $TB_GW_ADDR dev $TB_IF_CLI'" \
		"$(la_dl 5)" || nm_fail "nm: no default route via $TB_GW_ADDR after the base connection"
	tb_wait_for "tb_ping cli $TB_GW_ADDR" "$(la_dl 5)" || nm_fail "nm: the gateway does not answer a ping over the base connection"
	NM_UP_MS=$(( $(la_now_ms) - t0 ))
}

nm_con_state() { nm_cli -g GENERAL.STATE connection show "$1" 2>/dev/null; }
nm_vpn_activated() {
	[ "$(nm_cli -g GENERAL.VPN,GENERAL.STATE connection show "$1" 2>/dev/null | tr '\n' ' ')" = "yes activated " ]
}
nm_resolv() { cat "$NM_DIR/run/NetworkManager/resolv.conf" 2>/dev/null; }
nm_log_wait() { tb_wait_for "grep -q -E '$1' '$NM_DIR/nm.log'" "$(la_dl "$2")"; }
nm_kill() { [ -n "$NM_PID" ] && kill "-$1" "$NM_PID" 2>/dev/null; }

# nm_down: NetworkManager (it leaves its connections configured when told to
# quit; tb_down removes the namespace), then the bus.
nm_down() {
	tb_stop_pid "$NM_PID" 10
	NM_PID=""
	tb_stop_pid "$NM_BUS_PID" 10
	NM_BUS_PID=""
}
