#!/usr/bin/env bash
# Start a Ray cluster of one head and N worker nodes on this machine, for development.
# Every process listens on 127.0.0.1 only, token authentication is on, and each node
# is one `ray start --block` process whose PID is kept in $DBO_LOCAL_DIR; stop.sh ends
# them by those PIDs (never `ray stop`, which ends every Ray process on the machine).
#
#   cluster/local/start.sh [NUM_WORKERS] [GPUS_PER_WORKER]
#   distributed-bo submit jobs/quickstart.yaml --address "$(cat "$DBO_LOCAL_DIR/dashboard")"
#   cluster/local/stop.sh
#
# Environment (default): DBO_LOCAL_DIR (${TMPDIR:-/tmp}/distributed-bo-local) holds PID
# files, logs and Ray's temp dir; HEAD_CPUS (1); WORKER_CPUS (2); PYTHON (python3), the
# interpreter with ray[default] that runs every node (`python -m ray.scripts.scripts` is
# the `ray` command).
# GPUs are logical: Ray hands out ids 0..GPUS_PER_WORKER-1 on each worker and sets
# CUDA_VISIBLE_DEVICES, whether or not the machine has GPUs.
set -euo pipefail

NUM_WORKERS=${1:-${NUM_WORKERS:-2}}
GPUS_PER_WORKER=${2:-${GPUS_PER_WORKER:-2}}
HEAD_CPUS=${HEAD_CPUS:-1}
WORKER_CPUS=${WORKER_CPUS:-2}
PYTHON=${PYTHON:-python3}
DIR=${DBO_LOCAL_DIR:-${TMPDIR:-/tmp}/distributed-bo-local}
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "error: $*" >&2; exit 1; }
[[ $NUM_WORKERS =~ ^[0-9]+$ ]] || die "NUM_WORKERS: got '$NUM_WORKERS'; use a whole number"
[[ $GPUS_PER_WORKER =~ ^[0-9]+$ ]] || die "GPUS_PER_WORKER: got '$GPUS_PER_WORKER'; use a whole number"
"$PYTHON" -c "import ray" 2>/dev/null || die "PYTHON: '$PYTHON' cannot import ray; set PYTHON to the interpreter with ray[default]"
if [[ -f $DIR/head.pid ]] && kill -0 "$(cat "$DIR/head.pid")" 2>/dev/null; then
  die "a local cluster already runs from $DIR; stop it with $HERE/stop.sh"
fi
mkdir -p "$DIR"
rm -f "$DIR"/*.pid "$DIR"/dashboard "$DIR"/gcs_address

# Token authentication for every node and for clients on this machine: Ray reads the
# token from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, in that order.
export RAY_AUTH_MODE=token
if [[ -z ${RAY_AUTH_TOKEN:-} && -z ${RAY_AUTH_TOKEN_PATH:-} ]]; then
  "$PYTHON" -m ray.scripts.scripts get-auth-token --generate >/dev/null  # ~/.ray/auth_token
fi

free_ports() {  # N free TCP ports on 127.0.0.1
  "$PYTHON" - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

stop_started() { DBO_LOCAL_DIR=$DIR "$HERE/stop.sh" >/dev/null 2>&1 || true; }

read -r GCS_PORT DASH_PORT CLIENT_PORT AGENT_PORT AGENT_GRPC_PORT ENV_PORT METRICS_PORT \
  <<<"$(free_ports 7)"

# The head: Ray's single-machine switch keeps 127.0.0.1 as its address (otherwise Ray
# swaps in the machine's outward address, ray-project/ray#59110, and listens on every
# interface). Jobs submitted to it inherit the switch and join it on 127.0.0.1.
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 "$PYTHON" -m ray.scripts.scripts start --head --block \
  --node-ip-address 127.0.0.1 --port "$GCS_PORT" \
  --include-dashboard true --dashboard-host 127.0.0.1 --dashboard-port "$DASH_PORT" \
  --ray-client-server-port "$CLIENT_PORT" --dashboard-agent-listen-port "$AGENT_PORT" \
  --dashboard-agent-grpc-port "$AGENT_GRPC_PORT" --runtime-env-agent-port "$ENV_PORT" \
  --metrics-export-port "$METRICS_PORT" --num-cpus "$HEAD_CPUS" --num-gpus 0 \
  --temp-dir "$DIR/ray" --disable-usage-stats \
  </dev/null >"$DIR/head.log" 2>&1 &
echo $! >"$DIR/head.pid"

DASHBOARD="http://127.0.0.1:$DASH_PORT"
dashboard_up() {  # any HTTP answer (401 without the token) means the dashboard is up
  "$PYTHON" - "$DASHBOARD" <<'PY' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/api/version", timeout=2)
except urllib.error.HTTPError:
    pass
PY
}
up=0
for _ in $(seq 1 120); do
  kill -0 "$(cat "$DIR/head.pid")" 2>/dev/null || { tail -n 20 "$DIR/head.log" >&2; die "the head exited; see $DIR/head.log"; }
  if dashboard_up; then up=1; break; fi
  sleep 0.5
done
[[ $up == 1 ]] || { stop_started; die "the head's dashboard did not answer within 60 s; see $DIR/head.log"; }

# Workers: a node other than the head must run with Ray's multi-node mode, in which
# `ray start` swaps 127.0.0.1 for the outward address; this wrapper keeps 127.0.0.1.
# Each node has its own temp dir: nodes sharing one would unpack a job's working_dir
# into the same directory and replace it under each other's processes.
LOOPBACK_RAY_START='import sys
from ray._private import services
services.resolve_ip_for_localhost = lambda host: host
from ray.scripts.scripts import main
sys.argv[0] = "ray"
sys.exit(main())'
for i in $(seq 1 "$NUM_WORKERS"); do
  read -r NM_PORT OM_PORT W_AGENT W_AGENT_GRPC W_ENV W_METRICS <<<"$(free_ports 6)"
  "$PYTHON" -c "$LOOPBACK_RAY_START" start --block \
    --address "127.0.0.1:$GCS_PORT" --node-ip-address 127.0.0.1 \
    --num-cpus "$WORKER_CPUS" --num-gpus "$GPUS_PER_WORKER" \
    --node-manager-port "$NM_PORT" --object-manager-port "$OM_PORT" \
    --dashboard-agent-listen-port "$W_AGENT" --dashboard-agent-grpc-port "$W_AGENT_GRPC" \
    --runtime-env-agent-port "$W_ENV" --metrics-export-port "$W_METRICS" \
    --temp-dir "$DIR/ray-worker-$i" --disable-usage-stats \
    </dev/null >"$DIR/worker-$i.log" 2>&1 &
  echo $! >"$DIR/worker-$i.pid"
done

# Wait until every node is alive, asking the dashboard's state API with the token.
count_alive() {
  "$PYTHON" - "$DASHBOARD" <<'PY' 2>/dev/null || echo 0
import json, os, pathlib, sys, urllib.request
token = os.environ.get("RAY_AUTH_TOKEN") or pathlib.Path(
    os.environ.get("RAY_AUTH_TOKEN_PATH") or pathlib.Path.home() / ".ray" / "auth_token"
).read_text().strip()
query = "limit=1000&detail=false&filter_keys=state&filter_predicates=%3D&filter_values=ALIVE"
request = urllib.request.Request(
    f"{sys.argv[1]}/api/v0/nodes?{query}", headers={"Authorization": f"Bearer {token}"}
)
print(json.load(urllib.request.urlopen(request, timeout=5))["data"]["result"]["total"])
PY
}
alive=0
for _ in $(seq 1 120); do
  alive=$(count_alive)
  [[ $alive == $((NUM_WORKERS + 1)) ]] && break
  for f in "$DIR"/*.pid; do
    kill -0 "$(cat "$f")" 2>/dev/null || { log=${f%.pid}.log; tail -n 20 "$log" >&2; stop_started; die "a node exited; see $log"; }
  done
  sleep 0.5
done
[[ $alive == $((NUM_WORKERS + 1)) ]] || { stop_started; die "only $alive of $((NUM_WORKERS + 1)) nodes came up; see $DIR/*.log"; }

echo "$DASHBOARD" >"$DIR/dashboard"
echo "127.0.0.1:$GCS_PORT" >"$DIR/gcs_address"
cat <<MSG
Ray cluster up: 1 head + $NUM_WORKERS workers ($GPUS_PER_WORKER logical GPUs each), on 127.0.0.1, token auth on.
  submit: distributed-bo submit jobs/quickstart.yaml --address $DASHBOARD
  jobs:   distributed-bo jobs list --address $DASHBOARD
  stop:   DBO_LOCAL_DIR=$DIR $HERE/stop.sh
MSG
