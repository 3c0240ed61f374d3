#!/usr/bin/env bash
# Build and run the Compose example: one service, "node", scaled.
#
#   ./run.sh build          static binary (in a temp dir) + FROM scratch image
#   ./run.sh up [N]         build, then start N replicas (default 5)
#   ./run.sh members        each replica's /members, one line per member
#   ./run.sh ready          each replica's /readyz (-min-members 3)
#   ./run.sh logs           the JSON logs
#   ./run.sh kill N         SIGKILL replica N: the others see a failure
#   ./run.sh stop N         SIGTERM replica N: the others see a leave
#   ./run.sh start N        start replica N again; it rejoins through DNS
#   ./run.sh scale N        grow or shrink to N replicas
#   ./run.sh down           remove the containers, the network and the image
#
# Works with the Compose plugin ("docker compose") or the standalone
# docker-compose.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# The image compose.yaml runs; build makes it, down removes it.
image=gencluster-node:latest
project=gencluster-demo

if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
else
	echo "run.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
	exit 1
fi
compose+=(-f "$here/compose.yaml" -p "$project")

# build compiles the node program into a temp dir, which is also the
# image's build context (the Dockerfile is passed with -f), so nothing is
# written into the repository.
build() {
	local ctx status=0
	ctx=$(mktemp -d)
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/gencluster-node" ./examples/node) &&
		docker build -q -t "$image" -f "$here/Dockerfile" "$ctx" >/dev/null || status=$?
	rm -rf "$ctx"
	((status == 0)) || exit "$status"
	echo "built $image"
}

# down removes what up made: the containers and the network, then the
# image build made.
down() {
	"${compose[@]}" down --remove-orphans
	if docker image inspect "$image" >/dev/null 2>&1; then
		docker image rm "$image" >/dev/null
		echo "removed $image"
	fi
}

# replicas lists "number id" of the service's containers, running or not.
replicas() {
	docker ps -a --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=node \
		--format '{{.Label "com.docker.compose.container-number"}} {{.ID}}' | sort -n
}

# replica N prints the container ID of replica N.
replica() {
	local id
	id=$(replicas | awk -v n="$1" '$1 == n {print $2}')
	[[ -n $id ]] || {
		echo "run.sh: no replica $1" >&2
		exit 1
	}
	echo "$id"
}

# status PATH: GET PATH on every running replica's published status port.
status() {
	local n id port
	while read -r n id; do
		port=$(docker port "$id" 8080/tcp 2>/dev/null | head -n1) || true
		if [[ -z $port ]]; then
			echo "== node $n ($id): not running"
			continue
		fi
		echo "== node $n ($id) at $port"
		if [[ $1 == /members ]]; then # one member per line
			curl -sS --max-time 2 "http://$port$1" | tr -d ' \n' | sed 's/},{/}\n{/g; s/^\[//; s/\]$//'
			echo
		else
			curl -sS --max-time 2 "http://$port$1"
		fi
	done < <(replicas)
}

cmd=${1:-up}
shift || true
case $cmd in
build) build ;;
up)
	build
	"${compose[@]}" up -d --no-build --scale "node=${1:-5}"
	;;
scale) "${compose[@]}" up -d --no-build --no-recreate --scale "node=$1" ;;
members) status /members ;;
ready) status /readyz ;;
logs) "${compose[@]}" logs "$@" ;;
kill) docker kill --signal KILL "$(replica "$1")" ;;
stop) docker stop -t 15 "$(replica "$1")" ;;
start) docker start "$(replica "$1")" ;;
ps) "${compose[@]}" ps ;;
down) down ;;
*)
	sed -n '2,14p' "$0" >&2
	exit 2
	;;
esac
