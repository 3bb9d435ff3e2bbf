#!/bin/sh
# make install (without DESTDIR): create the users and groups of
# SYSUSERS_FILE (ikeagent, ikerelay) and let a running systemd see the new
# units. systemd-sysusers where it exists, else useradd. Needs root; as
# anyone else it says what to run.
set -eu
file=$1
if [ "$(id -u)" != 0 ]; then
	echo "install: not root: create the users with 'systemd-sysusers $file' as root" >&2
	exit 0
fi
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers "$file"
else
	for u in $(awk '$1 == "u" { print $2 }' "$file"); do
		id "$u" >/dev/null 2>&1 ||
			useradd --system --user-group --no-create-home --home-dir / \
				--shell /usr/sbin/nologin "$u"
	done
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
fi
echo "install: users ikeagent and ikerelay ready; configurations go in /etc/ikeagent"
