#!/bin/sh
# The dbt step's executable: dbt ($WAREHOUSE_DBT, set by the dbt asset; else dbt on PATH) under
# `setpriv --pdeathsig KILL`, so that dbt dies with the process that started it: a run killed
# with kill -9 leaves no dbt writing its warehouse.
# dagster-dbt asks `<executable> --version` before each build; dbt's own answer asks PyPI for
# the latest release (a network call, offline a timeout), so the installed version is printed here.
dbt="${WAREHOUSE_DBT:-dbt}"
if [ "$*" = "--version" ] && [ -x "$(dirname "$dbt")/python" ]; then
    exec "$(dirname "$dbt")/python" -c "from dbt.version import __version__; print(__version__)"
fi
exec setpriv --pdeathsig KILL -- "$dbt" "$@"
