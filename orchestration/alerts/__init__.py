"""Alerts: what went wrong (`Alert`) and where it is sent (`AlertResource`: webhook, SMTP, log).
`orchestration.sensors` raises them; docs/operations.md has the setup."""

from orchestration.alerts.model import Alert, run_link
from orchestration.alerts.resource import AlertResource, alert_resource_from_env

__all__ = ["Alert", "AlertResource", "alert_resource_from_env", "run_link"]
