# Sourced by the bench's reference scripts: what a user does by hand to run three etcd members.
# reference_cluster NAME            prints the --initial-cluster value of NAME-0..2
# reference_run_members NAME IMAGE TRIES [VOLUMES]
#   three `docker run` of etcd on the network NAME-net (with VOLUMES=1 each on its volume
#   NAME-i-data), then polls `etcdctl endpoint health` every 100 ms, at most TRIES times.
reference_cluster() {
  echo "$1-0=http://$1-0:2380,$1-1=http://$1-1:2380,$1-2=http://$1-2:2380"
}

reference_run_members() {
  local name=$1 image=$2 tries=$3 volumes=${4:-} cluster eps=() i
  cluster=$(reference_cluster "$name")
  for i in 0 1 2; do
    local mount=()
    if [ -n "$volumes" ]; then mount=(-v "$name-$i-data:/var/lib/etcd"); fi
    docker run -d --name "$name-$i" --network "$name-net" -p 127.0.0.1::2379 "${mount[@]}" "$image" \
      /usr/local/bin/etcd --name "$name-$i" --data-dir /var/lib/etcd/data \
      --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls "http://$name-$i:2379" \
      --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls "http://$name-$i:2380" \
      --initial-cluster "$cluster" --initial-cluster-token "$name" --initial-cluster-state new >/dev/null
    eps+=("$(docker port "$name-$i" 2379/tcp | head -1)")
  done
  local endpoints
  endpoints=$(IFS=,; echo "${eps[*]}")
  for _ in $(seq 1 "$tries"); do
    if ETCDCTL_API=3 etcdctl --endpoints "$endpoints" --command-timeout=1s endpoint health >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "reference cluster did not become healthy" >&2
  return 1
}
