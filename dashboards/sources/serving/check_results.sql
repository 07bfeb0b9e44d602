select run_id, evaluated_at, cast(evaluated_at as date) as evaluated_date, asset, check_name, passed, severity
from ops.check_results
