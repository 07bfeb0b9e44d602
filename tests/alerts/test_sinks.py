"""Alert sinks against real local servers: pytest-httpserver for the webhook, aiosmtpd for the
e-mail, a closed port for a sink that is down."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pytest_httpserver import HTTPServer

from orchestration.alerts import Alert, AlertResource, alert_resource_from_env, run_link

# ------------------------------------------------------------------ local SMTP servers


@dataclass
class Received:
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    received: Received
    ca_file: Path | None = None


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP, no TLS, no login."""
    received = Received()
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, received)
    finally:
        controller.stop()


@pytest.fixture
def smtp_tls_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """SMTP that requires STARTTLS before LOGIN; user `alerts`, password `s3cret-pw`."""
    received = Received()
    cert_file, key_file = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login,
            auth_data.password,
        ) == (b"alerts", b"s3cret-pw")
        if ok:
            received.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    controller = Controller(
        received,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, received, ca_file=cert_file)
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------- tests

RUN_ID = "0b7c2f1e-5d7a-4b7e-9a51-6e8d2c1f0a11"
TOKEN_PATH = "/services/T0001/B0002/xoxSECRETtoken"


def _alert(**overrides) -> Alert:
    fields = dict(
        kind="check_failure",
        message="3 of 120 rows quarantined (2.50%; max 1.00%)",
        severity="ERROR",
        asset_key="raw/payments",
        check_name="quarantine_share",
        partition="2025-03-02",
        observed_value=0.025,
        threshold=0.01,
        run_id=RUN_ID,
        link=run_link(RUN_ID, "http://dagster.example:3000"),
        job_name="full_pipeline",
    )
    fields.update(overrides)
    return Alert(**fields)


def test_webhook_receives_a_slack_payload_naming_asset_check_partition_value_and_run(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
):
    httpserver.expect_oneshot_request(TOKEN_PATH, method="POST").respond_with_data("ok")
    resource = AlertResource(webhook_url=httpserver.url_for(TOKEN_PATH))
    with caplog.at_level(logging.INFO, logger="orchestration.alerts"):
        resource.send([_alert()])
    httpserver.check_assertions()
    assert "giving up" not in caplog.text
    ((request, _response),) = httpserver.log
    assert request.headers["Content-Type"].startswith("application/json")
    payload = json.loads(request.get_data())
    assert set(payload) == {"text", "blocks"}
    blob = json.dumps(payload)
    for expected in (
        "raw/payments",
        "quarantine_share",
        "2025-03-02",
        "0.025",
        f"http://dagster.example:3000/runs/{RUN_ID}",
    ):
        assert expected in payload["text"], expected
        assert expected in blob, expected
    fields = [f["text"] for b in payload["blocks"] if "fields" in b for f in b["fields"]]
    assert "*Asset*\nraw/payments" in fields and "*Partition*\n2025-03-02" in fields
    assert payload["blocks"][0]["type"] == "header"
    # the log sink always has it too
    assert "ALERT check_failure" in caplog.text and "raw/payments" in caplog.text


def test_webhook_retries_a_server_error_then_delivers(httpserver: HTTPServer):
    httpserver.expect_ordered_request(TOKEN_PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(TOKEN_PATH).respond_with_data("ok")
    resource = AlertResource(webhook_url=httpserver.url_for(TOKEN_PATH), backoff_seconds=0.01)
    resource.send([_alert()])
    httpserver.check_assertions()
    assert [response.status_code for _, response in httpserver.log] == [503, 200]


def test_email_is_sent_over_plain_smtp(smtp_server):
    resource = AlertResource(
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        email_from="warehouse@example.org",
        email_to="ops@example.org, oncall@example.org",
    )
    resource.send([_alert()])
    (message,) = smtp_server.received.messages
    assert message["Subject"] == "[warehouse] [ERROR] Check failed: raw/payments:quarantine_share"
    assert message["From"] == "warehouse@example.org"
    (envelope,) = smtp_server.received.envelopes
    assert envelope == ("warehouse@example.org", ["ops@example.org", "oncall@example.org"])
    body = message.get_payload(decode=True).decode()
    for expected in (
        "Asset: raw/payments",
        "Check: quarantine_share",
        "Partition: 2025-03-02",
        "Observed: 0.025",
        "Threshold: 0.01",
        f"Link: http://dagster.example:3000/runs/{RUN_ID}",
    ):
        assert expected in body, expected


def test_email_with_starttls_and_login(smtp_tls_server, caplog: pytest.LogCaptureFixture):
    resource = AlertResource(
        smtp_host=smtp_tls_server.host,
        smtp_port=smtp_tls_server.port,
        smtp_starttls=True,
        smtp_ca_file=str(smtp_tls_server.ca_file),
        smtp_user="alerts",
        smtp_password="s3cret-pw",
        email_to="ops@example.org",
    )
    with caplog.at_level(logging.DEBUG, logger="orchestration.alerts"):
        resource.send([_alert(kind="freshness", check_name="freshness")])
    assert smtp_tls_server.received.logins == ["alerts"]
    (message,) = smtp_tls_server.received.messages
    assert "Landing feed is stale" in message["Subject"]
    assert "s3cret-pw" not in caplog.text


def test_a_down_sink_is_retried_then_logged_never_raised(caplog: pytest.LogCaptureFixture):
    webhook = f"http://127.0.0.1:{free_port()}{TOKEN_PATH}"
    resource = AlertResource(
        webhook_url=webhook,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_starttls=False,
        smtp_user="alerts",
        smtp_password="s3cret-pw",
        email_to="ops@example.org",
        attempts=3,
        backoff_seconds=0.01,
        timeout_seconds=2,
    )
    alerts = [_alert(), _alert(check_name="other_check")]
    with caplog.at_level(logging.INFO, logger="orchestration.alerts"):
        resource.send(alerts)  # must not raise
    # 3 attempts for the first alert, then the sink is skipped for the rest of the batch
    for attempt in ("attempt 1/3 failed", "attempt 2/3 failed", "giving up after 3 attempts"):
        assert caplog.text.count(attempt) == 2, attempt
    # both alerts still reached the log; no secret did
    assert caplog.text.count("ALERT check_failure") == 2
    assert "xoxSECRETtoken" not in caplog.text and "s3cret-pw" not in caplog.text
    assert "webhook 127.0.0.1:" in caplog.text


def test_no_sink_configured_means_log_only(caplog: pytest.LogCaptureFixture):
    resource = AlertResource()
    assert resource.sinks() == []
    with caplog.at_level(logging.INFO, logger="orchestration.alerts"):
        resource.send([_alert(severity="WARN")])
    assert "alert sink" not in caplog.text
    assert "ALERT check_failure [WARN] Check failed: raw/payments:quarantine_share" in caplog.text


def test_resource_from_env_passes_set_variables_as_env_vars(monkeypatch: pytest.MonkeyPatch):
    env = {
        "ALERT_WEBHOOK_URL": "https://hooks.example.com" + TOKEN_PATH,
        "ALERT_SMTP_HOST": "smtp.example.org",
        "ALERT_SMTP_PORT": "2525",
        "ALERT_SMTP_PASSWORD": "s3cret-pw",
        "ALERT_SMTP_STARTTLS": "false",
        "ALERT_EMAIL_TO": "a@example.org,b@example.org",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resource = alert_resource_from_env()
    # unresolved: the config names the variable, so the UI never shows the secret
    assert resource.webhook_url == dg.EnvVar("ALERT_WEBHOOK_URL")
    assert resource.smtp_starttls is False
    resolved = resource.process_config_and_initialize()
    assert resolved.webhook_url == env["ALERT_WEBHOOK_URL"]
    assert resolved.smtp_port == 2525
    assert resolved.recipients == ("a@example.org", "b@example.org")
    assert resolved.sinks() == ["webhook", "email"]

    for name in env:
        monkeypatch.delenv(name)
    monkeypatch.delenv("DAGSTER_UI_URL", raising=False)
    default = alert_resource_from_env().process_config_and_initialize()
    assert default.sinks() == [] and default.ui_url == "http://127.0.0.1:3000"


def test_run_link_uses_dagster_ui_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGSTER_UI_URL", "https://dagster.internal/")
    assert run_link("abc", alert_resource_from_env().ui_url) == "https://dagster.internal/runs/abc"
    monkeypatch.delenv("DAGSTER_UI_URL")
    assert run_link("abc", alert_resource_from_env().ui_url) == "http://127.0.0.1:3000/runs/abc"
    assert run_link(None, "http://127.0.0.1:3000") is None
