#!/usr/bin/env bash
# A head and one worker node on this host, token auth, stage actors allowed on both; then the
# service joins the cluster.  Usage: deploy/two_nodes.sh LANDING PRODUCTS
# Stop with Ctrl-C, then `ray stop` (NB: ray stop kills every Ray process on the host).
set -euo pipefail
LANDING=${1:?landing directory}; PRODUCTS=${2:?products directory}
export RAY_AUTH_MODE=token
PORT=${PORT:-6390}
ray start --head --port="$PORT" --num-cpus=1 --include-dashboard=false --disable-usage-stats \
    --object-store-memory=200000000 --labels="role=ingest"
ray start --address="127.0.0.1:$PORT" --num-cpus=1 --labels="role=stage"
exec streamcal run "$LANDING" --products "$PRODUCTS" --address auto
