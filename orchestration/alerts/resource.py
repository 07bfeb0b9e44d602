"""The alert sinks as one Dagster resource, configured from the settings (see .env.example).

The secrets are passed as `dg.EnvVar`, so the Dagster UI shows the variable's name, never its
value. With no ALERT_WEBHOOK_URL and no ALERT_SMTP_HOST the alerts only go to the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from orchestration import settings
from orchestration.alerts.model import DEFAULT_UI_URL, Alert
from orchestration.alerts.sinks import LOGGER, DeliveryReport, EmailSink, Sink, WebhookSink, deliver

DEFAULT_EMAIL_FROM = settings.BY_NAME["ALERT_EMAIL_FROM"].default
SECRETS = {name: f"ALERT_{name.upper()}" for name in ("webhook_url", "smtp_user", "smtp_password")}


class AlertResource(dg.ConfigurableResource):
    """Alert sinks: Slack-compatible webhook, SMTP e-mail, and always the log."""

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = int(settings.BY_NAME["ALERT_SMTP_PORT"].default)
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

    def send(self, alerts: Sequence[Alert], logger: Any = None) -> DeliveryReport:
        """Log and deliver `alerts`; never raises (see `sinks.deliver`)."""
        if not alerts:
            return DeliveryReport()
        if self.smtp_host.strip() and not self.recipients:
            (logger or LOGGER).warning(
                "ALERT_SMTP_HOST is set but ALERT_EMAIL_TO is empty: no e-mail sent"
            )
        return deliver(alerts, self.sinks(), logger, self.attempts, self.backoff_seconds)


def alert_resource_from_env(config: settings.Settings | None = None) -> AlertResource:
    """The resource for `Definitions`, from `config` (default: the process's settings)."""
    config = config or settings.get()
    secrets = {field: dg.EnvVar(var) for field, var in SECRETS.items() if var in config.environ}
    return AlertResource(
        smtp_host=config.alert_smtp_host or "",
        smtp_port=config.alert_smtp_port,
        smtp_starttls=config.alert_smtp_starttls,
        smtp_ca_file=str(config.alert_smtp_ca_file or ""),
        email_from=", ".join(config.alert_email_from),
        email_to=", ".join(config.alert_email_to or ()),
        ui_url=config.dagster_ui_url,
        **secrets,
    )
