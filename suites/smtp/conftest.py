"""Fixtures of the SMTP suite: the submission server (smtp.*) and the mailbox that receives (imap.*).

SMTP is optional for Prefect Self-Managed: with no smtp.host in the targets every check skips, saying so.
"""

from __future__ import annotations

import pytest

from readiness.probes.smtp import ImapSettings, Mailbox, Mailer, SmtpSettings

SUBMISSION_PORT = 587


def _configured(targets, key: str) -> str:
    value = targets.get(key)
    if not value:
        pytest.skip(f"SMTP is optional and not configured: {targets.missing(key)}")
    return str(value)


@pytest.fixture
def smtp(targets) -> SmtpSettings:
    host = _configured(targets, "smtp.host")
    return SmtpSettings(
        host=host,
        port=int(targets.get("smtp.port") or SUBMISSION_PORT),
        address=targets.get("smtp.address"),
        username=targets.get("smtp.username"),
        password=targets.get("smtp.password"),
        sender=targets.get("smtp.sender"),
        recipient=targets.get("smtp.recipient"),
        ca_bundle=targets.ca_bundle("smtp"),
    )


@pytest.fixture
def mailer(smtp: SmtpSettings, probe_timeout: float) -> Mailer:
    return Mailer(smtp, timeout=probe_timeout)


@pytest.fixture
def mailbox(targets, smtp: SmtpSettings, probe_timeout: float) -> Mailbox:
    host = _configured(targets, "imap.host")
    settings = ImapSettings(
        host=host,
        port=int(targets.get("imap.port") or 993),
        address=targets.get("imap.address"),
        username=targets.get("imap.username"),
        password=targets.get("imap.password"),
        mailbox=targets.get("imap.mailbox") or "INBOX",
        ca_bundle=smtp.ca_bundle,
    )
    return Mailbox(settings, timeout=probe_timeout)


@pytest.fixture
def smtp_evidence(targets) -> dict:
    return targets.evidence("smtp.host", "smtp.address", "smtp.port", "smtp.username", "smtp.sender", "smtp.recipient")
