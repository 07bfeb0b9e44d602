#!/bin/sh
# The dbt step's executable: dbt ($WAREHOUSE_DBT, set by the dbt asset; else dbt on PATH) under
# `setpriv --pdeathsig KILL`, so that dbt dies with the process that started it: a run killed
# with kill -9 leaves no dbt writing its warehouse.
exec setpriv --pdeathsig KILL -- "${WAREHOUSE_DBT:-dbt}" "$@"
