"""One `Alert`: what it is about, what was seen against what was expected, and where to look;
rendered as a log line, a Slack message and an e-mail, leaving out the fields that are None."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

from orchestration import settings

AlertKind = Literal["run_failure", "check_failure", "freshness", "anomaly", "product_sales"]
Severity = Literal["ERROR", "WARN", "INFO"]

DEFAULT_UI_URL = settings.BY_NAME["DAGSTER_UI_URL"].default

_TITLES: dict[str, str] = {
    "run_failure": "Run failed",
    "check_failure": "Check failed",
    "freshness": "Landing feed is stale",
    "anomaly": "KPI anomaly",
    "product_sales": "Product sales alert",
}
FLAGGED_ROW_KINDS = ("anomaly", "product_sales")  # a mart row against its expected value


def run_link(run_id: str | None, base_url: str) -> str | None:
    """`{base_url}/runs/{run_id}` (base_url: DAGSTER_UI_URL), None without a run."""
    if not run_id:
        return None
    return f"{(base_url or DEFAULT_UI_URL).rstrip('/')}/runs/{run_id}"


@dataclass(frozen=True)
class Alert:
    """One thing an operator should look at."""

    kind: AlertKind
    message: str
    severity: Severity = "ERROR"
    asset_key: str | None = None  # user string, e.g. raw/orders
    check_name: str | None = None
    partition: str | None = None  # a dt partition or a range "start..end"
    observed_value: Any = None
    threshold: Any = None  # the limit or the expected value
    run_id: str | None = None
    link: str | None = None  # {DAGSTER_UI_URL}/runs/{run_id}
    job_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        subject = self.asset_key or self.job_name or ""
        if self.check_name:
            subject = f"{subject}:{self.check_name}"
        what = self.details.get("kpi") or self.details.get("product_id")
        if self.kind in FLAGGED_ROW_KINDS and what:
            subject = f"{what} on {self.details.get('business_date')}"
        return f"[{self.severity}] {_TITLES[self.kind]}: {subject}".rstrip(": ")

    def fields(self) -> list[tuple[str, str]]:
        """The labelled facts, in display order; absent ones left out."""
        pairs = [
            ("Asset", self.asset_key),
            ("Check", self.check_name),
            ("Partition", self.partition),
            ("Observed", self.observed_value),
            ("Expected" if self.kind in FLAGGED_ROW_KINDS else "Threshold", self.threshold),
            ("Severity", self.severity),
            ("Job", self.job_name),
            ("Run id", self.run_id),
        ]
        pairs += [(key.replace("_", " ").capitalize(), v) for key, v in self.details.items()]
        shown = [(label, value) for label, value in pairs if value not in (None, "")]
        return [(k, f"{v:.6g}" if isinstance(v, float) else str(v)) for k, v in shown]

    def text(self) -> str:
        """Plain text: title, message, facts, link (the e-mail, Slack's notification fallback)."""
        lines = [self.title, self.message]
        lines += [f"{label}: {value}" for label, value in self.fields()]
        if self.link:
            lines.append(f"Link: {self.link}")
        return "\n".join(lines)

    def log_line(self) -> str:
        facts = " ".join(f"{label.lower()}={value}" for label, value in self.fields())
        link = f" | {self.link}" if self.link else ""
        return f"ALERT {self.kind} {self.title} | {self.message} | {facts}{link}"

    def slack_payload(self) -> dict[str, Any]:
        """A Slack incoming-webhook body: `text` (notification fallback) and Block Kit blocks."""
        fields = [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in self.fields()
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": self.message[:3000]}},
        ]
        # Slack allows at most 10 fields per section.
        blocks += [
            {"type": "section", "fields": fields[start : start + 10]}
            for start in range(0, len(fields), 10)
        ]
        if self.link:
            link = {"type": "mrkdwn", "text": f"<{self.link}|Open the run in Dagster>"}
            blocks.append({"type": "section", "text": link})
        return {"text": self.text(), "blocks": blocks}

    def email(self, sender: str, recipients: list[str]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[warehouse] {self.title}"
        msg["From"] = sender
        msg["To"] = ", ".join(recipients)
        msg.set_content(self.text() + "\n")
        return msg
