#!/usr/bin/env bash
# Reference for bench/snapshot.ps1: restoring a snapshot into a new 3-member cluster by hand with
# the image's own tools. One short-lived `docker run` of `etcdctl snapshot restore` per member
# volume (side by side), then three `docker run` of etcd on those volumes, then poll
# `etcdctl endpoint health` until every member is healthy.
# Usage: restore-reference.sh NAME IMAGE SNAPSHOT   (cleans up with: restore-reference.sh --rm NAME)
set -euo pipefail
if [ "$1" = "--rm" ]; then
  docker rm -f "$2-0" "$2-1" "$2-2" >/dev/null 2>&1 || true
  docker volume rm "$2-0-data" "$2-1-data" "$2-2-data" >/dev/null 2>&1 || true
  docker network rm "$2-net" >/dev/null 2>&1 || true
  exit 0
fi
name=$1 image=$2 snapshot=$3
tool=/usr/local/bin/etcdutl
case "$image" in *3.4.*) tool=/usr/local/bin/etcdctl ;; esac
# shellcheck source=reference-members.sh
. "$(dirname "$0")/reference-members.sh"
docker network create "$name-net" >/dev/null
cluster=$(reference_cluster "$name")
pids=()
for i in 0 1 2; do
  docker volume create "$name-$i-data" >/dev/null
  docker run --rm --network none -e ETCDCTL_API=3 -v "$name-$i-data:/var/lib/etcd" -v "$snapshot:/snapshot.db:ro" "$image" \
    "$tool" snapshot restore /snapshot.db --name "$name-$i" --initial-cluster "$cluster" \
    --initial-cluster-token "$name" --initial-advertise-peer-urls "http://$name-$i:2380" --data-dir /var/lib/etcd/data >/dev/null 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
reference_run_members "$name" "$image" 1200 volumes
