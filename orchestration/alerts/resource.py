"""The alert sinks as one Dagster resource, configured from env vars (see .env.example).

`alert_resource_from_env()` passes every variable that is set as a `dg.EnvVar`, so the Dagster UI
shows the variable's name, never its value (the webhook URL holds a token, the SMTP password is a
password), and the value is read where the sensor runs. Unset variables take the defaults below;
with no ALERT_WEBHOOK_URL and no ALERT_SMTP_HOST the alerts only go to the log.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import dagster as dg

from orchestration import settings
from orchestration.alerts.model import DEFAULT_UI_URL, Alert, run_link
from orchestration.alerts.sinks import (
    LOGGER,
    DeliveryReport,
    EmailSink,
    Sink,
    WebhookSink,
    deliver,
)

DEFAULT_SMTP_PORT = 587
DEFAULT_EMAIL_FROM = "warehouse-alerts@localhost"

# resource field -> env var, for the string settings passed as dg.EnvVar when set
_STRING_VARS = {
    "webhook_url": "ALERT_WEBHOOK_URL",
    "smtp_host": "ALERT_SMTP_HOST",
    "smtp_user": "ALERT_SMTP_USER",
    "smtp_password": "ALERT_SMTP_PASSWORD",
    "smtp_ca_file": "ALERT_SMTP_CA_FILE",
    "email_from": "ALERT_EMAIL_FROM",
    "email_to": "ALERT_EMAIL_TO",
    "ui_url": "DAGSTER_UI_URL",
}


class AlertResource(dg.ConfigurableResource):
    """Alert sinks: Slack-compatible webhook, SMTP e-mail, and always the log."""

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_ca_file: str = ""  # a private CA for the relay's STARTTLS certificate (optional)
    email_from: str = DEFAULT_EMAIL_FROM
    email_to: str = ""  # comma-separated
    ui_url: str = DEFAULT_UI_URL
    attempts: int = 3  # per alert and sink, then give up and log
    backoff_seconds: float = 0.5  # wait before retry n: backoff × 2^(n-1)
    timeout_seconds: float = 5.0  # per connection / request

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.email_to.split(",") if part.strip())

    def sinks(self) -> list[Sink]:
        found: list[Sink] = []
        if self.webhook_url.strip():
            found.append(WebhookSink(self.webhook_url.strip(), timeout=self.timeout_seconds))
        if self.smtp_host.strip() and self.recipients:
            found.append(
                EmailSink(
                    host=self.smtp_host.strip(),
                    port=self.smtp_port,
                    sender=self.email_from or DEFAULT_EMAIL_FROM,
                    recipients=self.recipients,
                    user=self.smtp_user or None,
                    password=self.smtp_password or None,
                    starttls=self.smtp_starttls,
                    ca_file=self.smtp_ca_file or None,
                    timeout=self.timeout_seconds,
                )
            )
        return found

    def run_link(self, run_id: str | None) -> str | None:
        return run_link(run_id, self.ui_url or DEFAULT_UI_URL)

    def send(self, alerts: Sequence[Alert], logger: Any = None) -> DeliveryReport:
        """Log and deliver `alerts`; never raises (see `sinks.deliver`)."""
        if not alerts:
            return DeliveryReport()
        sinks = self.sinks()
        if self.smtp_host.strip() and not self.recipients:
            (logger or LOGGER).warning(
                "ALERT_SMTP_HOST is set but ALERT_EMAIL_TO is empty: no e-mail sent"
            )
        return deliver(
            alerts,
            sinks,
            logger=logger,
            attempts=self.attempts,
            backoff_seconds=self.backoff_seconds,
        )


def alert_resource_from_env(environ: dict[str, str] | None = None) -> AlertResource:
    """The resource for `Definitions`: set variables as `dg.EnvVar`, the rest defaults."""
    env = os.environ if environ is None else environ
    kwargs: dict[str, Any] = {
        field: dg.EnvVar(var) for field, var in _STRING_VARS.items() if env.get(var, "").strip()
    }
    if env.get("ALERT_SMTP_PORT", "").strip():
        kwargs["smtp_port"] = dg.EnvVar.int("ALERT_SMTP_PORT")
    if env.get("ALERT_SMTP_STARTTLS", "").strip():
        # Dagster has no boolean EnvVar; a flag is no secret, so it is read here.
        kwargs["smtp_starttls"] = settings.BY_NAME["ALERT_SMTP_STARTTLS"].parse(
            env["ALERT_SMTP_STARTTLS"]
        )
    return AlertResource(**kwargs)
