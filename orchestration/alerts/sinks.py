"""Where alerts go: a Slack-compatible webhook, e-mail over SMTP, and always the log.

Delivery never raises: a sink that is down is retried with backoff, then skipped for the rest
of the batch (a sensor tick has a time limit). Secrets (the webhook URL, the SMTP password)
stay out of the log.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from orchestration.alerts.model import Alert

LOGGER = logging.getLogger("orchestration.alerts")


@dataclass(frozen=True)
class WebhookSink:
    """POST the alert's Slack payload as JSON to a Slack-compatible webhook."""

    url: str = field(repr=False)
    timeout: float = 5.0
    name: str = "webhook"

    def describe(self) -> str:
        """Names only the host and port: the URL's path holds the token."""
        return f"webhook {urlsplit(self.url).netloc.rsplit('@', 1)[-1] or '<invalid url>'}"

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.slack_payload(), default=str).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        request = urllib.request.Request(self.url, body, headers, method="POST")
        urllib.request.urlopen(request, timeout=self.timeout).close()  # HTTPError unless 2xx


@dataclass(frozen=True)
class EmailSink:
    """Send the alert as a plain-text e-mail. STARTTLS and login are each optional."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ca_file: str | None = None
    timeout: float = 5.0
    name: str = "email"

    def describe(self) -> str:
        tls, auth = "STARTTLS" if self.starttls else "plain", "auth" if self.user else "no auth"
        return (
            f"smtp {self.host}:{self.port} ({tls}, {auth}) to {len(self.recipients)} recipient(s)"
        )

    def send(self, alert: Alert) -> None:
        message = alert.email(self.sender, list(self.recipients))
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


@dataclass
class DeliveryReport:
    """What one `deliver` call did, per sink name."""

    alerts: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)  # alerts not delivered
    attempts: dict[str, int] = field(default_factory=dict)


Sink = WebhookSink | EmailSink


def _safe_error(exc: BaseException, sink: Sink) -> str:
    """The error, without the sink's secrets (the webhook URL, the SMTP password)."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in (getattr(sink, "url", ""), getattr(sink, "password", "")):
        text = text.replace(secret, "<redacted>") if secret else text
    return text[:300]


def deliver(
    alerts: Sequence[Alert],
    sinks: Sequence[Sink],
    logger: Any = None,
    attempts: int = 3,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Log every alert, then send it to every sink; never raises.

    A failed send is retried after backoff_seconds, 2×, 4×…; after `attempts` failures the alert
    is logged as undelivered and that sink is skipped for the rest of this batch.
    """
    log = logger or LOGGER
    report = DeliveryReport(alerts=len(alerts))
    dead: set[str] = set()
    for alert in alerts:
        (log.error if alert.severity == "ERROR" else log.warning)(alert.log_line())
        for sink in sinks:
            if sink.name in dead:
                report.failed[sink.name] = report.failed.get(sink.name, 0) + 1
                continue
            for attempt in range(1, max(attempts, 1) + 1):
                report.attempts[sink.name] = report.attempts.get(sink.name, 0) + 1
                try:
                    sink.send(alert)
                except Exception as exc:
                    error = _safe_error(exc, sink)
                    if attempt < attempts:
                        delay = backoff_seconds * 2 ** (attempt - 1)
                        log.warning(
                            f"alert sink {sink.describe()}: attempt {attempt}/{attempts} failed "
                            f"({error}); retrying in {delay:.1f}s"
                        )
                        sleep(delay)
                        continue
                    log.error(
                        f"alert sink {sink.describe()}: giving up after {attempts} attempts "
                        f"({error}); alert not delivered there: {alert.title}; this sink is "
                        "skipped for the rest of this batch"
                    )
                    report.failed[sink.name] = report.failed.get(sink.name, 0) + 1
                    dead.add(sink.name)
                else:
                    report.sent[sink.name] = report.sent.get(sink.name, 0) + 1
                break
    return report
