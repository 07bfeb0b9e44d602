"""Where alerts go: a Slack-compatible webhook, e-mail over SMTP, and always the log; one
Dagster resource configured from the settings (see .env.example).

The secrets are passed as `dg.EnvVar`, so the Dagster UI shows the variable's name, never its
value, and they stay out of the log. Sending never raises: a sink that is down is retried with
backoff, then skipped for the rest of the batch (a sensor tick has a time limit).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from orchestration import settings
from orchestration.alerts.model import DEFAULT_UI_URL, Alert

LOGGER = logging.getLogger("orchestration.alerts")
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

    def sinks(self) -> list[str]:
        """The configured sinks: webhook, email (the log is not one: it gets every alert)."""
        webhook = ["webhook"] if self.webhook_url.strip() else []
        return webhook + (["email"] if self.smtp_host.strip() and self.recipients else [])

    def post_webhook(self, alert: Alert) -> None:
        """POST the alert's Slack payload as JSON (HTTPError unless 2xx)."""
        body = json.dumps(alert.slack_payload(), default=str).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        request = urllib.request.Request(self.webhook_url.strip(), body, headers, method="POST")
        urllib.request.urlopen(request, timeout=self.timeout_seconds).close()

    def send_email(self, alert: Alert) -> None:
        """Send the alert as a plain-text e-mail. STARTTLS and login are each optional."""
        message = alert.email(self.email_from or DEFAULT_EMAIL_FROM, list(self.recipients))
        host, port = self.smtp_host.strip(), self.smtp_port
        with smtplib.SMTP(host, port, timeout=self.timeout_seconds) as smtp:
            if self.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=self.smtp_ca_file or None))
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password)
            smtp.send_message(message)

    def describe(self, sink: str) -> str:
        """The sink for the log; of the webhook only its host: the URL's path holds the token."""
        if sink == "webhook":
            host = urlsplit(self.webhook_url.strip()).netloc.rsplit("@", 1)[-1]
            return f"webhook {host or '<invalid url>'}"
        tls = "STARTTLS" if self.smtp_starttls else "plain"
        auth = "auth" if self.smtp_user else "no auth"
        to = f"{len(self.recipients)} recipient(s)"
        return f"smtp {self.smtp_host}:{self.smtp_port} ({tls}, {auth}) to {to}"

    def redacted(self, exc: Exception) -> str:
        """The error, without the secrets (the webhook URL, the SMTP password)."""
        text = f"{type(exc).__name__}: {exc}"
        for secret in (self.webhook_url.strip(), self.smtp_password):
            text = text.replace(secret, "<redacted>") if secret else text
        return text[:300]

    def deliver(self, alert: Alert, sink: str, log: Any) -> bool:
        """Send `alert` to `sink`, retried after backoff_seconds, 2×, 4×…; False after
        `attempts` failures (logged)."""
        for attempt in range(1, max(self.attempts, 1) + 1):
            try:
                (self.post_webhook if sink == "webhook" else self.send_email)(alert)
                return True
            except Exception as exc:
                error = self.redacted(exc)
            if attempt < self.attempts:
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning(
                    f"alert sink {self.describe(sink)}: attempt {attempt}/{self.attempts} failed "
                    f"({error}); retrying in {delay:.1f}s"
                )
                time.sleep(delay)
        log.error(
            f"alert sink {self.describe(sink)}: giving up after {self.attempts} attempts "
            f"({error}); alert not delivered there: {alert.title}; this sink is skipped for the "
            "rest of this batch"
        )
        return False

    def send(self, alerts: Sequence[Alert], logger: Any = None) -> None:
        """Log every alert, then send it to every sink that has not given up; never raises."""
        log = logger or LOGGER
        if alerts and self.smtp_host.strip() and not self.recipients:
            log.warning("ALERT_SMTP_HOST is set but ALERT_EMAIL_TO is empty: no e-mail sent")
        sinks = self.sinks()
        for alert in alerts:
            (log.error if alert.severity == "ERROR" else log.warning)(alert.log_line())
            sinks = [sink for sink in sinks if self.deliver(alert, sink, log)]


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
