"""Fixtures of the SMTP suite: the submission server (smtp.*) and the mailbox that receives (imap.*).

SMTP is optional for Prefect Self-Managed: with no smtp.host in the targets every check skips, saying so.
"""

from __future__ import annotations

import pytest

from readiness.probes.smtp import ImapSettings, Mailbox, Mailer, SmtpSettings


def _configured(targets, key: str) -> None:
    if not targets.get(key):
        pytest.skip(f"SMTP is optional and not configured: {targets.missing(key)}")


@pytest.fixture
def smtp(targets) -> SmtpSettings:
    _configured(targets, "smtp.host")
    return SmtpSettings.from_targets(targets)


@pytest.fixture
def mailer(smtp: SmtpSettings, probe_timeout: float) -> Mailer:
    return Mailer(smtp, timeout=probe_timeout)


@pytest.fixture
def mailbox(targets, smtp: SmtpSettings, probe_timeout: float) -> Mailbox:
    _configured(targets, "imap.host")
    return Mailbox(ImapSettings.from_targets(targets), timeout=probe_timeout)


@pytest.fixture
def smtp_evidence(targets) -> dict:
    return targets.evidence("smtp.host", "smtp.address", "smtp.port", "smtp.username", "smtp.sender", "smtp.recipient")
