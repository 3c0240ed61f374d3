#!/usr/bin/env bash
# ci-k8s.sh runs the realpeers Kubernetes and CoreDNS suite, as .ci/run
# calls it: it builds (or reuses) the real binaries with build.sh, then runs
# the K8s tests. A missing prerequisite (root, Docker, nsenter, iptables, a
# binary build.sh could not make) is a failure, never a skip.
#
# The measured figures are the lines "measured: k8s ..." and
# "measured: coredns ..." of its output.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "ci-k8s.sh: FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (etcd from apt, iptables in the containers' network namespaces)"
for tool in go docker nsenter iptables; do
	command -v "$tool" >/dev/null || die "$tool is not on PATH"
done
docker info --format '{{.ServerVersion}}' >/dev/null || die "the Docker daemon is not usable"

start=$(date +%s)
bash test/realpeers/build.sh || die "build.sh failed"
echo "ci-k8s.sh: build.sh took $(($(date +%s) - start))s"

start=$(date +%s)
go test -tags realpeers -count=1 -timeout 20m -v -run 'K8s' ./test/realpeers/ || die "the K8s realpeers tests failed"
echo "ci-k8s.sh: tests took $(($(date +%s) - start))s"
