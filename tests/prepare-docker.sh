#!/usr/bin/env bash
# Makes sure a Docker engine answers and the local etcd test image exists.
# Never pulls: the image is built from Debian's etcd binary (see ../shared/DESIGN.md section 5).
set -euo pipefail
IMAGE="${K3DETCD_ETCD_IMAGE:-k3detcd/etcd:3.4.23}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

need_pkgs=()
command -v docker  >/dev/null || need_pkgs+=(docker.io)
command -v etcd    >/dev/null || need_pkgs+=(etcd-server)
command -v etcdctl >/dev/null || need_pkgs+=(etcd-client)
command -v curl    >/dev/null || need_pkgs+=(curl)
command -v openssl >/dev/null || need_pkgs+=(openssl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "prepare-docker: installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "prepare-docker: starting dockerd"
  ($SUDO dockerd >/tmp/k3detcd-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "prepare-docker: dockerd did not start; see /tmp/k3detcd-dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "prepare-docker: building $IMAGE from $(command -v etcd)"
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  mkdir -p "$ctx/usr/local/bin" "$ctx/lib/x86_64-linux-gnu" "$ctx/lib64" "$ctx/tmp" "$ctx/var/lib/etcd"
  cp "$(command -v etcd)" "$(command -v etcdctl)" "$ctx/usr/local/bin/"
  cp /lib/x86_64-linux-gnu/libc.so.6 "$ctx/lib/x86_64-linux-gnu/"
  cp /lib64/ld-linux-x86-64.so.2 "$ctx/lib64/"
  printf 'FROM scratch\nCOPY . /\nWORKDIR /var/lib/etcd\nCMD ["/usr/local/bin/etcd"]\n' > "$ctx/Dockerfile"
  docker build -q -t "$IMAGE" "$ctx" >/dev/null
fi
echo "prepare-docker: engine ready, image $IMAGE present"
