"""The monitoring notifier: always logs, and sends to Slack / e-mail when their connection is configured.

A subclass of Airflow's ``BaseNotifier``, so it also works as an ``on_failure_callback``; the monitoring
tasks call it directly with the findings of their check.
"""

from __future__ import annotations

import logging

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


class CadenceNotifier(BaseNotifier):
    """Send ``title`` + ``message`` to the task log (always), a Slack webhook and/or SMTP.

    :param severity: ``warn`` or ``error``; decides the log level and the title prefix.
    :param slack_conn_id: a Slack incoming-webhook connection (SlackWebhookHook); None: no Slack.
    :param smtp_conn_id: an SMTP connection (SmtpHook); None or no ``email_to``: no e-mail.
    """

    template_fields = ("title", "message")

    def __init__(
        self,
        *,
        title: str,
        message: str,
        severity: str = "warn",
        slack_conn_id: str | None = None,
        smtp_conn_id: str | None = None,
        email_to: tuple[str, ...] | list[str] = (),
    ):
        super().__init__()
        self.title = title
        self.message = message
        self.severity = severity
        self.slack_conn_id = slack_conn_id
        self.smtp_conn_id = smtp_conn_id
        self.email_to = list(email_to)

    @property
    def subject(self) -> str:
        return f"[cadence {self.severity.upper()}] {self.title}"

    def notify(self, context) -> list[str]:
        """Deliver the notification; returns the channels it went to (``log`` always first)."""
        level = logging.ERROR if self.severity == "error" else logging.WARNING
        log.log(level, "%s\n%s", self.subject, self.message)
        channels = ["log"]
        if self.slack_conn_id:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            SlackWebhookHook(slack_webhook_conn_id=self.slack_conn_id).send(
                text=f"*{self.subject}*\n```{self.message}```"
            )
            channels.append("slack")
        if self.smtp_conn_id and self.email_to:
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            with SmtpHook(smtp_conn_id=self.smtp_conn_id) as smtp:
                smtp.send_email_smtp(
                    to=self.email_to, subject=self.subject, html_content=f"<pre>{self.message}</pre>"
                )
            channels.append("email")
        return channels
