#!/usr/bin/env bash
# Two Ray nodes on this host with `ray start`, then `streamcal run` joins them:
#   head   (--labels role=ingest): the service's control actors (ingest, ledger), the driver;
#   worker (--labels role=stage, --resources stage1): the stage workers (deploy/two_nodes.toml
#          places every pool there by label).
# Token auth on every command (RAY_AUTH_MODE=token: one mode for the whole cluster; the token
# comes from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token).
#
# Usage: deploy/two_nodes.sh LANDING PRODUCTS [CONFIG]
# Env:   PORT (GCS port, default 6390), CLIENT_PORT (Ray client, default PORT+1),
#        RAY_TMP (Ray's --temp-dir, default a fresh directory), RAY / STREAMCAL (commands).
# Ctrl-C or SIGTERM stops streamcal run (it drains), then the worker node, then the head: only
# what this script started (never `ray stop`, which kills every Ray process on the host).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LANDING=${1:?landing directory}; PRODUCTS=${2:?products directory}; CONFIG=${3:-$HERE/two_nodes.toml}
PORT=${PORT:-6390}; CLIENT_PORT=${CLIENT_PORT:-$((PORT + 1))}
RAY_TMP=${RAY_TMP:-$(mktemp -d /tmp/streamcal-ray.XXXXXX)}
RAY=${RAY:-ray}; STREAMCAL=${STREAMCAL:-streamcal}
export RAY_AUTH_MODE=token

pids=()
stop() {  # newest first: the service drains while the nodes are still up
    trap - EXIT INT TERM
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap stop EXIT INT TERM

common=(--block --num-cpus=1 --disable-usage-stats --object-store-memory=200000000 --temp-dir="$RAY_TMP")
"$RAY" start --head --port="$PORT" --ray-client-server-port="$CLIENT_PORT" --include-dashboard=false \
    --labels=role=ingest "${common[@]}" &
pids+=($!)
"$RAY" start --address="127.0.0.1:$PORT" --resources='{"stage1": 4}' --labels=role=stage "${common[@]}" &
pids+=($!)
"$STREAMCAL" run "$LANDING" --products "$PRODUCTS" --config "$CONFIG" --address "127.0.0.1:$PORT" &
pids+=($!)
wait "${pids[-1]}"
