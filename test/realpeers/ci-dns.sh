#!/usr/bin/env bash
# ci-dns.sh runs the realpeers suite's DNS, Prometheus, packet loss and
# serf tests (test/realpeers/{dns,prom,loss,serf}_test.go) against real
# peers from Debian's packages: bind9 and unbound, Prometheus and promtool,
# serf. .ci/run calls it, as root.
#
# It installs the packages it needs (without starting their system
# services: a named or unbound service would take port 53 on every
# interface), fails (never skips) when a prerequisite is still missing,
# then runs the tests. Runtime: about 4.5 minutes (the loss test holds each
# loss rate for 60s).
set -euo pipefail

cd "$(dirname "$0")/../.."

PACKAGES=(bind9 bind9-dnsutils unbound prometheus serf iproute2 iptables)
TOOLS=(named dig unbound prometheus promtool serf ip iptables go)

die() {
	echo "ci-dns.sh: FAIL: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root: the tests create network namespaces and iptables rules"

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get"
	echo "ci-dns.sh: installing ${missing[*]}"
	# Keep the packages' services from starting (invoke-rc.d asks
	# policy-rc.d; 101 means "not allowed"), unless a policy exists.
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"; } ||
		die "apt-get install ${missing[*]} failed"
fi
for tool in "${TOOLS[@]}"; do
	command -v "$tool" >/dev/null || die "$tool is not in PATH (packages: ${PACKAGES[*]})"
done
iptables -m statistic --help >/dev/null 2>&1 || die "iptables has no statistic match (the packet loss test needs it)"

echo "ci-dns.sh: versions:"
echo "  $(named -v)"
echo "  $(unbound -V | head -1)"
echo "  $(prometheus --version 2>&1 | head -1)"
echo "  serf $(serf version | head -1)"
echo "  $(iptables -V)"

# Anchored, so that the Kubernetes tests of the same package (CoreDNS...)
# are not run here.
exec go test -tags realpeers -count=1 -timeout 20m -v -run '^Test(DNS|Prometheus|Loss|Serf)' ./test/realpeers/
