#!/usr/bin/env bash
# Runs the mDNS interop tests (test/realpeers/mdns_test.go): gencluster's
# mdns.New (seeds/mdns) against Debian's avahi-daemon, avahi-browse and avahi-publish,
# in network namespaces the test creates (no mDNS packet reaches the
# host's network). Needs root. Installs what is missing with apt-get and
# fails, never skips, when a prerequisite cannot be had.
#
#   bash test/realpeers/ci-mdns.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
	echo "ci-mdns.sh: needs root (network namespaces, avahi-daemon)" >&2
	exit 1
fi

need=()
for tool in ip:iproute2 unshare:util-linux mount:mount dbus-daemon:dbus avahi-daemon:avahi-daemon avahi-browse:avahi-utils avahi-publish:avahi-utils; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	# Keep the packages' maintainer scripts from starting a system
	# avahi-daemon (it would announce on the host's network): policy-rc.d
	# exit 101 forbids service starts during the install.
	policy=/usr/sbin/policy-rc.d
	created_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		created_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	if [ -n "$created_policy" ]; then rm -f "$policy"; fi
fi
for tool in ip unshare mount dbus-daemon avahi-daemon avahi-browse avahi-publish go; do
	command -v "$tool" >/dev/null 2>&1 || { echo "ci-mdns.sh: $tool is still missing" >&2; exit 1; }
done
avahi-daemon --version

go test -tags realpeers -count=1 -v -run 'TestMDNS' ./test/realpeers/
