#!/usr/bin/env bash
# The worked example of docs/your-data.md in a world of its own: its landing, working warehouse,
# serving copy, GX Data Docs and Dagster history all go under one folder (default data/byod/),
# never into the sample's (data/landing, data/warehouse.duckdb, data/docs, data/dagster_home, ...),
# so neither shows the other's runs and checks.
#
#   examples/byod/run.sh                        build the landing, check it, run the pipeline
#   examples/byod/run.sh --report-json r.json   (arguments go to `orchestration.cli pipeline`)
#   examples/byod/run.sh ui                     the Dagster UI on the example's history
#   BYOD_DIR=/tmp/byod examples/byod/run.sh     another folder (relative: to the current one)
#
# Needs `make install`. PYTHON (default: the repository's .venv/bin/python) runs every step;
# PORT (default 3000) is the UI's port.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BYOD_DIR=${BYOD_DIR:-$ROOT/data/byod}
case $BYOD_DIR in /*) ;; *) BYOD_DIR=$PWD/$BYOD_DIR ;; esac
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
cd "$ROOT"

# The dbt manifest, as `make prepare` parses it (a no-op when it is up to date).
"$PYTHON" -m orchestration.cli prepare

export WAREHOUSE_CONFIG=$ROOT/examples/byod/warehouse.yaml
export LANDING_DIR=$BYOD_DIR/landing
export WAREHOUSE_PATH=$BYOD_DIR/warehouse.duckdb
export SERVING_DIR=$BYOD_DIR/serving
export GX_DOCS_DIR=$BYOD_DIR/docs
export DAGSTER_HOME=$BYOD_DIR/dagster_home
export SPARK_DIR=$BYOD_DIR/spark

if [[ ${1:-} == ui ]]; then
    "$PYTHON" -c "from orchestration.cli import ensure_dagster_home; ensure_dagster_home()"
    BIN=$(dirname "$PYTHON")
    export PATH=$BIN:$PATH # the code servers `dagster dev` starts find the venv's dagster, dbt
    echo "Dagster UI of the worked example: http://127.0.0.1:${PORT:-3000} (Ctrl-C to stop)"
    exec "$BIN/dagster" dev -w workspace.yaml -h 127.0.0.1 -p "${PORT:-3000}"
fi

"$PYTHON" examples/byod/build_landing.py --out "$LANDING_DIR"
"$PYTHON" -m orchestration.validate_landing "$LANDING_DIR" # 6 feeds ok, 7 not delivered
"$PYTHON" -m orchestration.cli pipeline "$@"
"$PYTHON" -m orchestration.cli where
