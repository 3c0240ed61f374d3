#!/usr/bin/env bash
# build.sh builds (or reuses) the real peers the realpeers Kubernetes suite
# runs against: kube-apiserver and kube-controller-manager (built from a
# scratch module, because `go install k8s.io/kubernetes/...` refuses a module
# with replace directives), kwok, CoreDNS, and etcd from Debian.
#
# Everything goes into $REALPEERS_BIN (default /var/cache/gencluster-realpeers/bin)
# and is reused on the next run when the versions stamp matches. Nothing is
# written into the repository; only the Go module proxy and apt are used.
# Any error stops the script with a message: CI must never run the suite
# against a half-built set of binaries.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}   # go.mod says go 1.26.0
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
BIN=${REALPEERS_BIN:-/var/cache/gencluster-realpeers/bin}
STAMP="$BIN/.versions"
WANT="k8s=$K8S_VERSION kwok=$KWOK_VERSION coredns=$COREDNS_VERSION go=$(go env GOVERSION)"

die() { echo "build.sh: FAIL: $*" >&2; exit 1; }
build_start=$(date +%s)
log() { echo "build.sh: $(date -u +%T) $*" >&2; }
trap 'die "command failed at line $LINENO: $BASH_COMMAND"' ERR

command -v go >/dev/null || die "go is not on PATH"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

# etcd: Debian's etcd-server (3.4 is enough for kube-apiserver's storage).
if ! command -v etcd >/dev/null; then
	log "installing etcd-server with apt"
	command -v apt-get >/dev/null || die "etcd is missing and apt-get is not available"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2; } ||
		die "apt-get install etcd-server failed"
fi
command -v etcd >/dev/null || die "etcd not on PATH after installing etcd-server"

have_all() {
	for b in kube-apiserver kube-controller-manager kwok coredns; do
		[ -x "$BIN/$b" ] || return 1
	done
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]
}
if have_all; then
	log "reusing $BIN ($WANT)"
	exit 0
fi
mkdir -p "$BIN"
rm -f "$STAMP"

# Kubernetes: a scratch module outside the repository that requires
# k8s.io/kubernetes and pins every ./staging module (replaced by a local path
# in kubernetes' own go.mod, which a dependency's replaces cannot do) to the
# published k8s.io/<name> v0.<minor>.<patch>.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
log "fetching k8s.io/kubernetes@$K8S_VERSION go.mod"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
mods=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod")
[ -n "$mods" ] || die "no ./staging replaces found in $gomod"
{
	echo "module realpeers.local/k8sbuild"
	echo
	grep -E '^go ' "$gomod"
	echo
	echo "require k8s.io/kubernetes $K8S_VERSION"
	echo
	echo "replace ("
	for m in $mods; do echo "	$m => $m $STAGING_VERSION"; done
	echo ")"
} >"$work/go.mod"
cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
log "resolving the module graph ($(echo "$mods" | wc -l) staging modules at $STAGING_VERSION)"
(cd "$work" && go mod tidy >&2 && go mod download >&2) || die "go mod tidy failed in the scratch module $work"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
ldflags="$ldflags -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
ldflags="$ldflags -X k8s.io/component-base/version.gitTreeState=clean"
for cmd in kube-apiserver kube-controller-manager; do
	log "building $cmd $K8S_VERSION (several minutes)"
	(cd "$work" && go build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd") ||
		die "building $cmd failed"
done

log "building kwok $KWOK_VERSION"
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "go install kwok failed"
log "building coredns $COREDNS_VERSION"
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" || die "go install coredns failed"

for b in kube-apiserver kube-controller-manager kwok coredns; do
	[ -x "$BIN/$b" ] || die "$BIN/$b missing after the build"
done
"$BIN/kube-apiserver" --version >&2 || die "kube-apiserver does not run"
"$BIN/coredns" -version >&2 || die "coredns does not run"
echo "$WANT" >"$STAMP"
log "done: $BIN ($WANT)"
echo "FIGURE realpeers_k8s_build=$(($(date +%s) - build_start))s" >&2
