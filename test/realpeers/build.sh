#!/usr/bin/env bash
# build.sh builds (or reuses) the real peers the realpeers Kubernetes suite
# runs against: etcd, kube-apiserver and kube-controller-manager (each from a
# scratch module: `go install` refuses a module with replace directives, and
# both etcd's and kubernetes' go.mod replace their sibling modules by local
# paths), kwok and CoreDNS.
#
# Everything goes into $REALPEERS_BIN (default /var/cache/gencluster-realpeers/bin).
# Each component has a stamp (its version and Go's) and is rebuilt only when
# the stamp differs. Nothing is written into the repository; only the Go
# module proxy is used. Any error stops the script with a message: CI must
# never run the suite against a half-built set of binaries.
#
# Why not Debian's etcd-server: it is etcd 3.4.23, older than the progress
# requests (3.4.31) that kube-apiserver's watch cache needs to keep up;
# with it the controllers' caches lag and the endpointslice and statefulset
# controllers back off, and a scale change took 8 to 57 s to reach the
# EndpointSlices instead of 0.1 s (see docs/realpeers.md).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}   # its go.mod says go 1.26.0
ETCD_VERSION=${ETCD_VERSION:-v3.6.16} # go 1.26.0
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
BIN=${REALPEERS_BIN:-/var/cache/gencluster-realpeers/bin}

build_start=$(date +%s)
die() { echo "build.sh: FAIL: $*" >&2; exit 1; }
log() { echo "build.sh: $(date -u +%T) $*" >&2; }
trap 'die "command failed at line $LINENO: $BASH_COMMAND"' ERR

command -v go >/dev/null || die "go is not on PATH"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
GOVERSION=$(go env GOVERSION)
# Kubernetes v1.37, etcd v3.6.16, kwok v0.8.0 and CoreDNS v1.15.0 all say
# go 1.26.0 in their go.mod; GOTOOLCHAIN=local, so no toolchain is fetched.
NEED_GO=go1.26.0
[ "$(printf '%s\n%s\n' "$NEED_GO" "$GOVERSION" | sort -V | head -1)" = "$NEED_GO" ] ||
	die "these versions need $NEED_GO or newer; go here is $GOVERSION (or pick older versions: K8S_VERSION, ETCD_VERSION, KWOK_VERSION, COREDNS_VERSION)"
mkdir -p "$BIN" || die "cannot create $BIN"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fresh NAME VERSION: true when $BIN/NAME exists and its stamp matches.
fresh() {
	[ -x "$BIN/$1" ] && [ -f "$BIN/.$1.stamp" ] && [ "$(cat "$BIN/.$1.stamp")" = "$2 $GOVERSION" ]
}
stamp() { echo "$2 $GOVERSION" >"$BIN/.$1.stamp"; }

# scratch_module DIR MODULE VERSION: writes DIR/go.mod requiring
# MODULE@VERSION with every local-path replace of MODULE's own go.mod
# turned into the published module; the version of each comes from the
# function map_version (given the module path).
scratch_module() {
	local dir=$1 mod=$2 ver=$3 gomod mods
	gomod=$(go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
	[ -f "$gomod" ] || die "could not download $mod@$ver"
	# "	k8s.io/api => ./staging/src/k8s.io/api", "	go.etcd.io/etcd/api/v3 => ../api"
	# (etcd also "replaces" modules it must never import by ./FORBIDDEN_DEPENDENCY.)
	mods=$(grep -v FORBIDDEN_DEPENDENCY "$gomod" | sed -n 's#^[[:space:]]*\(replace[[:space:]]*\)\{0,1\}\([^ ]*\) => \.\{1,2\}/.*#\2#p')
	[ -n "$mods" ] || die "no local-path replaces found in $gomod"
	mkdir -p "$dir"
	{
		echo "module realpeers.local/build"
		echo
		grep -E '^go ' "$gomod"
		echo
		echo "require $mod $ver"
		echo
		echo "replace ("
		for m in $mods; do echo "	$m => $m $(map_version "$m")"; done
		echo ")"
	} >"$dir/go.mod"
	log "$mod@$ver: $(echo "$mods" | wc -l) sibling modules pinned"
}

# etcd: the server module's main package is the etcd binary.
if fresh etcd "$ETCD_VERSION"; then
	log "reusing etcd $ETCD_VERSION"
else
	map_version() { echo "$ETCD_VERSION"; }
	scratch_module "$work/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
	printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$work/etcd/tools.go"
	log "building etcd $ETCD_VERSION"
	(cd "$work/etcd" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3) ||
		die "building etcd failed"
	"$BIN/etcd" --version >&2 || die "etcd does not run"
	stamp etcd "$ETCD_VERSION"
fi

# Kubernetes: every ./staging module pinned to the published
# k8s.io/<name> v0.<minor>.<patch>.
if fresh kube-apiserver "$K8S_VERSION" && fresh kube-controller-manager "$K8S_VERSION"; then
	log "reusing kube-apiserver and kube-controller-manager $K8S_VERSION"
else
	map_version() { echo "v0.${K8S_VERSION#v1.}"; }
	scratch_module "$work/k8s" k8s.io/kubernetes "$K8S_VERSION"
	cat >"$work/k8s/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
	log "resolving the Kubernetes module graph"
	(cd "$work/k8s" && go mod tidy >&2) || die "go mod tidy failed in the scratch module $work/k8s"
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	ldflags="$ldflags -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
	ldflags="$ldflags -X k8s.io/component-base/version.gitTreeState=clean"
	for cmd in kube-apiserver kube-controller-manager; do
		log "building $cmd $K8S_VERSION (several minutes)"
		(cd "$work/k8s" && go build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd") ||
			die "building $cmd failed"
	done
	"$BIN/kube-apiserver" --version >&2 || die "kube-apiserver does not run"
	stamp kube-apiserver "$K8S_VERSION"
	stamp kube-controller-manager "$K8S_VERSION"
fi

if fresh kwok "$KWOK_VERSION"; then
	log "reusing kwok $KWOK_VERSION"
else
	log "building kwok $KWOK_VERSION"
	GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "go install kwok failed"
	stamp kwok "$KWOK_VERSION"
fi

if fresh coredns "$COREDNS_VERSION"; then
	log "reusing coredns $COREDNS_VERSION"
else
	log "building coredns $COREDNS_VERSION"
	GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" || die "go install coredns failed"
	"$BIN/coredns" -version >&2 || die "coredns does not run"
	stamp coredns "$COREDNS_VERSION"
fi

for b in etcd kube-apiserver kube-controller-manager kwok coredns; do
	[ -x "$BIN/$b" ] || die "$BIN/$b missing after the build"
done
rm -f "$BIN/.versions" # the stamp of an earlier build.sh
log "done: $BIN"
echo "FIGURE realpeers_k8s_build=$(($(date +%s) - build_start))s" >&2
