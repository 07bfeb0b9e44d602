"""Alerts on the flagged rows of a published mart: `marts.kpi_anomalies` (is_anomaly) and
`marts.product_sales_alerts` (is_alert). Each flagged (business_date, key) row alerts once,
through the alert sinks: the sensor's cursor holds the publish version read and the rows
alerted within the lookback window (ANOMALY_ALERT_LOOKBACK_DAYS) of the mart's newest date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration import serving as serving_files
from orchestration import settings
from orchestration.alerts.model import Alert, AlertKind, run_link
from orchestration.alerts.resource import AlertResource
from orchestration.assets.publish import ServingResource


@dataclass(frozen=True)
class FlaggedMart:
    """A published mart whose rows with `flag` true alert once per (business_date, `key`):
    `value` against the row's same-weekday baseline_mean ± baseline_std."""

    name: str
    flag: str
    key: str
    value: str
    kind: AlertKind

    def alert(self, row: dict[str, Any], version: int | None, run_id: str, ui_url: str) -> Alert:
        day = row["business_date"].isoformat()
        return Alert(
            kind=self.kind,
            severity="WARN",
            message=(  # a flagged row has a z-score, so none of these is NULL
                f"{row[self.key]} on {day} went {row['direction']}: {self.value} "
                f"{row[self.value]:.6g} against a same-weekday baseline of "
                f"{row['baseline_mean']:.6g} ± {row['baseline_std']:.6g} (z = {row['z_score']:.6g})"
            ),
            asset_key=f"marts/{self.name}",
            partition=day,
            observed_value=row[self.value],
            threshold=row["baseline_mean"],
            run_id=run_id,
            link=run_link(run_id, ui_url),
            details={
                self.key: row[self.key],
                "business_date": day,
                "z_score": row["z_score"],
                "direction": row["direction"],
                "publish_version": version,
            },
        )

    def new_alerts(
        self, database: Path, cursor: dict[str, Any], lookback_days: int, ui_url: str
    ) -> tuple[list[Alert], dict[str, Any]]:
        """Alerts for the flagged rows not alerted before, and the new cursor."""
        newest = (serving_files.read_log(database) or [{}])[-1]
        version, run_id = newest.get("version"), newest.get("run_id")
        if version is not None and version == cursor.get("version"):
            return [], cursor
        with duckdb.connect(str(database), read_only=True) as conn:
            (window_start,) = conn.execute(
                f"SELECT max(business_date) - ?::INTEGER FROM marts.{self.name}", [lookback_days]
            ).fetchone()
            result = conn.execute(
                f"SELECT * FROM marts.{self.name} WHERE {self.flag} AND business_date >= ? "
                f"ORDER BY business_date, {self.key}",
                [window_start],
            )
            names = [d[0] for d in result.description]
            rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        flagged = {f"{row['business_date'].isoformat()}|{row[self.key]}": row for row in rows}
        seen = set(cursor.get("seen", []))
        new = [row for key, row in flagged.items() if key not in seen]
        alerts = [self.alert(row, version, run_id, ui_url) for row in new]
        oldest = window_start.isoformat() if window_start else ""
        seen = {key for key in seen | set(flagged) if key[:10] >= oldest}
        return alerts, {"version": version, "seen": sorted(seen)}

    def sensor(self, description: str) -> dg.SensorDefinition:
        @dg.sensor(
            name=f"alert_on_{self.name}",
            minimum_interval_seconds=120,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description=description,
        )
        def alert_on_flagged_rows(
            context: dg.SensorEvaluationContext, alerts: AlertResource, serving: ServingResource
        ) -> dg.SkipReason:
            database = serving.resolved_dir / serving_files.DATABASE
            if not database.is_file():
                return dg.SkipReason(f"nothing published yet at {database}")
            cursor = json.loads(context.cursor) if context.cursor else {}
            lookback = settings.get().anomaly_alert_lookback_days
            try:
                found, cursor = self.new_alerts(database, cursor, lookback, alerts.ui_url)
            except duckdb.Error as exc:  # e.g. a publish from before the mart existed
                return dg.SkipReason(f"cannot read marts.{self.name} from {database}: {exc}")
            alerts.send(found, logger=context.log)
            context.update_cursor(json.dumps(cursor))
            return dg.SkipReason(f"publish v{cursor['version']}: {len(found)} new alert(s)")

        return alert_on_flagged_rows


KPI_ANOMALIES = FlaggedMart("kpi_anomalies", "is_anomaly", "kpi", "value", "anomaly")
PRODUCT_SALES_ALERTS = FlaggedMart(
    "product_sales_alerts", "is_alert", "product_id", "units_sold", "product_sales"
)
alert_on_kpi_anomalies = KPI_ANOMALIES.sensor(
    "Alert once on each new anomaly flagged in the published marts.kpi_anomalies."
)
alert_on_product_sales_alerts = PRODUCT_SALES_ALERTS.sensor(
    "Alert once per product and day flagged in the published marts.product_sales_alerts."
)
