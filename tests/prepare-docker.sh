#!/usr/bin/env bash
# Makes sure a Docker engine answers and the local etcd test images exist, installing what is
# missing from Debian's packages. Never pulls: the images are built from Debian's etcd binaries
# (see ../shared/DESIGN.md section 5).
#
# The engine is decided on the engine itself (a `docker info` that answers, or a `dockerd` to
# start), never on the `docker` CLI: a machine can have the CLI without any engine.
#
# Environment:
#   K3DETCD_ETCD_IMAGE        the 3.4 test image to build (default k3detcd/etcd:3.4.23)
#   K3DETCD_ETCD35_IMAGE      the 3.5 test image with etcdutl (default k3detcd/etcd:3.5.16);
#   K3DETCD_ETCD3530_IMAGE    the newest 3.5 patch, from Debian unstable (default k3detcd/etcd:3.5.30);
#                             K3DETCD_SKIP_ETCD35=1 leaves both 3.5 images out
#   K3DETCD_DISK_PROBE_IMAGE  the fio image Measure-EtcdDisk runs (default k3detcd/fio:3.33, from Debian's fio)
#   K3DETCD_DOCKERD_TIMEOUT   seconds to wait for a started engine (default 60)
set -euo pipefail
IMAGE="${K3DETCD_ETCD_IMAGE:-k3detcd/etcd:3.4.23}"
IMAGE35="${K3DETCD_ETCD35_IMAGE:-k3detcd/etcd:3.5.16}"
IMAGE3530="${K3DETCD_ETCD3530_IMAGE:-k3detcd/etcd:3.5.30}"
FIOIMAGE="${K3DETCD_DISK_PROBE_IMAGE:-k3detcd/fio:3.33}"
say() { echo "prepare-docker: $*"; }
die() { echo "prepare-docker: $*" >&2; exit 1; }

engine_answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
fi

need_pkgs=()
engine_answers || command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v etcd    >/dev/null || need_pkgs+=(etcd-server)
command -v etcdctl >/dev/null || need_pkgs+=(etcd-client)
command -v curl    >/dev/null || need_pkgs+=(curl)
command -v openssl >/dev/null || need_pkgs+=(openssl)
# Measure-EtcdDisk's probe image is Debian's fio (etcd's own disk check), copied with its libraries.
command -v fio     >/dev/null || need_pkgs+=(fio)
# The multi-engine tests give each extra engine (dockerd) its own bridge interface, made with ip.
command -v ip      >/dev/null || need_pkgs+=(iproute2)
# The etcd browser's tests drive Debian's chromium through chromedriver (Selenium never downloads one).
command -v chromium     >/dev/null || need_pkgs+=(chromium)
command -v chromedriver >/dev/null || need_pkgs+=(chromium-driver)
# Register-EtcdBackup schedules through the user's crontab: the tests need crontab and a cron daemon.
command -v crontab >/dev/null && command -v cron >/dev/null || need_pkgs+=(cron)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    die "missing ${need_pkgs[*]}, and this is not a Debian/Ubuntu machine (no apt-get): install a Docker engine (Docker Desktop on macOS/Windows) and etcd's server and client, start the engine, then run this again."
  fi
  if [ "$SUDO" = none ]; then
    die "missing ${need_pkgs[*]}, and installing needs root or sudo: run 'sudo apt-get install -y ${need_pkgs[*]}', then run this again."
  fi
  say "installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! engine_answers; then
  command -v dockerd >/dev/null || die "no Docker engine answers and no dockerd is installed: install docker.io (or Docker Desktop) and start it."
  [ "$SUDO" = none ] && die "no Docker engine answers and starting dockerd needs root or sudo: start the engine (sudo dockerd, or systemctl start docker), then run this again."
  say "starting dockerd"
  # In a session of its own (setsid): the engine outlives the terminal or job that started it.
  detach=""; command -v setsid >/dev/null && detach="setsid"
  ($SUDO $detach dockerd >>/tmp/k3detcd-dockerd.log 2>&1 </dev/null &)
  for _ in $(seq 1 "${K3DETCD_DOCKERD_TIMEOUT:-60}"); do engine_answers && break; sleep 1; done
  engine_answers || die "dockerd did not answer within ${K3DETCD_DOCKERD_TIMEOUT:-60} s; see /tmp/k3detcd-dockerd.log"
fi

# The backup schedule's tests need a running cron daemon (no systemd here: start it directly).
if ! pgrep -x cron >/dev/null 2>&1; then
  if [ "$SUDO" = none ]; then
    say "cron is not running and starting it needs root or sudo: the backup schedule's tests will fail (sudo cron)."
  else
    say "starting cron"
    $SUDO cron
  fi
fi

# A FROM-scratch image holding the given etcd binaries and the glibc they link to.
build_image() { # tag binary...
  local tag=$1; shift
  local ctx; ctx=$(mktemp -d)
  mkdir -p "$ctx/usr/local/bin" "$ctx/lib/x86_64-linux-gnu" "$ctx/lib64" "$ctx/tmp" "$ctx/var/lib/etcd"
  cp "$@" "$ctx/usr/local/bin/"
  cp /lib/x86_64-linux-gnu/libc.so.6 "$ctx/lib/x86_64-linux-gnu/"
  cp /lib64/ld-linux-x86-64.so.2 "$ctx/lib64/"
  printf 'FROM scratch\nCOPY . /\nWORKDIR /var/lib/etcd\nCMD ["/usr/local/bin/etcd"]\n' > "$ctx/Dockerfile"
  # The legacy builder's deprecation notice goes to stderr: show the log only when the build fails.
  docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx.log" || { cat "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; die "building $tag failed"; }
  rm -rf "$ctx" "$ctx.log"
}

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "building $IMAGE from $(command -v etcd)"
  build_image "$IMAGE" "$(command -v etcd)" "$(command -v etcdctl)"
fi

# etcd 3.5 (with etcdutl) from Debian's packages of one suite, through a private apt directory so
# the machine's own apt lists stay as they are: 3.5.16 from trixie (used where behaviour differs by
# version) and 3.5.30 from unstable (the newest 3.5 patch, the rolling-upgrade tests' last step;
# its binaries run on bookworm's glibc). The package version must be the tag's: a suite that moved
# on is reported, not built under a wrong tag.
build_from_suite() { # tag suite
  local tag=$1 suite=$2 want=${1##*:}
  docker image inspect "$tag" >/dev/null 2>&1 && return 0
  # The archive this machine already uses (its own apt sources), never a host name written here.
  local uri
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  if [ -z "$uri" ] || ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null || [ "$SUDO" = none ]; then
    say "cannot build $tag here (needs apt-get, root and an apt source URI); tests that need it will fail"
    return 0
  fi
  say "building $tag from Debian $suite's etcd packages"
  local a; a=$(mktemp -d); chmod 755 "$a"   # apt's download user must reach it
  mkdir -p "$a/parts" "$a/lists/partial" "$a/cache/archives/partial" "$a/x"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" "$suite" > "$a/parts/$suite.sources"
  local o=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$a/parts" -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache")
  $SUDO apt-get "${o[@]}" update -qq
  local have
  have=$(apt-cache "${o[@]}" show --no-all-versions etcd-server 2>/dev/null | awk '/^Version:/{print $2; exit}')
  case "$have" in
    "$want"|"$want"-*|"$want"+*) ;;
    *) $SUDO rm -rf "$a"; say "Debian $suite has etcd-server ${have:-none}, not $want: $tag not built; tests that need it will fail"; return 0 ;;
  esac
  (cd "$a" && $SUDO apt-get "${o[@]}" download etcd-server etcd-client >/dev/null)
  for d in "$a"/etcd-*.deb; do dpkg-deb -x "$d" "$a/x"; done
  build_image "$tag" "$a/x/usr/bin/etcd" "$a/x/usr/bin/etcdctl" "$a/x/usr/bin/etcdutl"
  $SUDO rm -rf "$a"
}
if [ "${K3DETCD_SKIP_ETCD35:-}" != 1 ]; then
  build_from_suite "$IMAGE35" trixie
  build_from_suite "$IMAGE3530" unstable
fi
# Measure-EtcdDisk's probe: fio (etcd's hardware guidance measures fdatasync with it) and rm (the
# scratch directory's removal), each with the shared libraries ldd names, in a FROM-scratch image.
if ! docker image inspect "$FIOIMAGE" >/dev/null 2>&1; then
  say "building $FIOIMAGE from $(command -v fio)"
  ctx=$(mktemp -d); mkdir -p "$ctx/tmp" "$ctx/lib64"
  for b in "$(command -v fio)" /bin/rm; do
    mkdir -p "$ctx$(dirname "$b")"; cp "$b" "$ctx$b"
    for l in $(ldd "$b" | awk '$3 ~ /^\//{print $3}'); do mkdir -p "$ctx$(dirname "$l")"; cp -L "$l" "$ctx$l"; done
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$ctx/lib64/"
  printf 'FROM scratch\nCOPY . /\nCMD ["/usr/bin/fio","--version"]\n' > "$ctx/Dockerfile"
  docker build -q -t "$FIOIMAGE" "$ctx" >/dev/null 2>"$ctx.log" || { cat "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; die "building $FIOIMAGE failed"; }
  rm -rf "$ctx" "$ctx.log"
fi
say "engine ready, image $IMAGE present"
