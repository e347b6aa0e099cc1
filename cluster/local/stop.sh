#!/usr/bin/env bash
# Stop the cluster start.sh started: each node by the PID in its PID file, workers
# first. `ray start --block` ends its node's processes on SIGTERM. Never `ray stop`:
# it ends every Ray process on the machine, other people's included.
set -euo pipefail

DIR=${DBO_LOCAL_DIR:-${TMPDIR:-/tmp}/distributed-bo-local}

ours() {  # is PID still the `ray start --block` we started (not a reused PID)?
  local args
  args=$(ps -o args= -p "$1" 2>/dev/null) || return 1
  [[ $args == *" start "* && $args == *" --block"* ]]
}

stop_nodes() {  # SIGTERM every PID file given, then wait up to 30 s for each
  local pids=() f pid
  for f in "$@"; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    if ours "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    rm -f "$f"
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "warning: node $pid ignored SIGTERM for 30 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

shopt -s nullglob
stop_nodes "$DIR"/worker-*.pid
stop_nodes "$DIR"/head.pid
rm -f "$DIR/dashboard" "$DIR/gcs_address"
echo "stopped the local cluster in $DIR"
