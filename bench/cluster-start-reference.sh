#!/usr/bin/env bash
# Reference for bench/cluster-start.ps1: what a user does by hand. Three `docker run` of etcd
# members on a fresh network, then poll `etcdctl endpoint health` until every member is healthy.
# Usage: cluster-start-reference.sh NAME IMAGE   (cleans up with: cluster-start-reference.sh --rm NAME)
set -euo pipefail
if [ "$1" = "--rm" ]; then
  docker rm -f "$2-0" "$2-1" "$2-2" >/dev/null 2>&1 || true
  docker network rm "$2-net" >/dev/null 2>&1 || true
  exit 0
fi
name=$1 image=$2
# shellcheck source=reference-members.sh
. "$(dirname "$0")/reference-members.sh"
docker network create "$name-net" >/dev/null
reference_run_members "$name" "$image" 600
