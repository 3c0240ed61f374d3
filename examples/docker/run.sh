#!/usr/bin/env bash
# Build and run the five-node Docker example.
#
#   ./run.sh build          static binary + FROM scratch image
#   ./run.sh up             build, then start the nodes (detached)
#   ./run.sh members        each node's /members, one line per member
#   ./run.sh logs [node]    the JSON logs
#   ./run.sh kill node3     SIGKILL: the others see a failure
#   ./run.sh stop node3     SIGTERM: the others see a leave
#   ./run.sh start node3    start it again; it rejoins through DNS
#   ./run.sh down           stop and remove everything
#
# Works with the Compose plugin ("docker compose") or the standalone
# docker-compose.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
image=${IMAGE:-gencluster-node:latest}

if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
else
	echo "run.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
	exit 1
fi
compose+=(-f "$here/compose.yaml" -p gencluster-demo)

build() {
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$here/gencluster-node" ./examples/node)
	docker build -q -t "$image" "$here" >/dev/null
	echo "built $image"
}

members() {
	for port in 8081 8082 8083 8084 8085; do
		echo "== 127.0.0.1:$port"
		curl -fsS --max-time 2 "http://127.0.0.1:$port/members" | tr -d ' \n' | sed 's/},{/}\n{/g; s/^\[//; s/\]$//'
		echo
	done
}

cmd=${1:-up}
shift || true
case $cmd in
build) build ;;
up)
	build
	"${compose[@]}" up -d --no-build "$@"
	;;
members) members ;;
logs) "${compose[@]}" logs "$@" ;;
kill) "${compose[@]}" kill -s SIGKILL "$@" ;;
stop) "${compose[@]}" stop "$@" ;;
start) "${compose[@]}" start "$@" ;;
ps) "${compose[@]}" ps ;;
down) "${compose[@]}" down --remove-orphans ;;
*)
	sed -n '2,12p' "$0" >&2
	exit 2
	;;
esac
