"""Alerts: what went wrong (`Alert`) and where it is sent (`AlertResource`: webhook, SMTP, log).

The sensors that raise them are in `orchestration.sensors`; docs/operations.md has the
configuration and an example payload.
"""

from orchestration.alerts.model import Alert, AlertKind, run_link, ui_url
from orchestration.alerts.resource import AlertResource, alert_resource_from_env
from orchestration.alerts.sinks import DeliveryReport, EmailSink, WebhookSink, deliver

__all__ = [
    "Alert",
    "AlertKind",
    "AlertResource",
    "DeliveryReport",
    "EmailSink",
    "WebhookSink",
    "alert_resource_from_env",
    "deliver",
    "run_link",
    "ui_url",
]
