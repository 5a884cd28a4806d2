"""Notification e-mail: the SMTP server Prefect sends through, and a message that arrives."""

from __future__ import annotations

import pytest

from readiness.core.humanize import listing, show
from readiness.probes.smtp import sender_domain_policy


@pytest.mark.requirement("SMTP-TLS")
def test_smtp_offers_tls_with_a_valid_certificate(mailer, smtp, smtp_evidence, expect, params):
    tls = mailer.tls()
    evidence = {**tls.evidence, "targets": smtp_evidence}
    expect.true(
        "TLS offered (STARTTLS on the submission port, or implicit TLS on 465)",
        tls.implicit_tls or tls.starttls_offered,
        observed="implicit TLS"
        if tls.implicit_tls
        else ("STARTTLS offered" if tls.starttls_offered else "STARTTLS not offered in the EHLO reply"),
        expected="STARTTLS or implicit TLS",
        evidence=evidence,
    )
    expect.true(
        f"certificate valid for {smtp.host}",
        tls.certificate_valid,
        observed="valid" if tls.certificate_valid else (tls.certificate_error or "no TLS session"),
        expected="valid",
        evidence=evidence,
    )
    how = "implicit TLS" if tls.implicit_tls else "STARTTLS"
    expect.one_of(
        "TLS protocol",
        tls.tls_version,
        params["tls_versions"],
        evidence=evidence,
        observed_text=f"{how} to {smtp.host}, certificate valid for it, protocol {show(tls.tls_version)}",
        expected_text=f"STARTTLS or implicit TLS, a certificate valid for {smtp.host}, protocol one of "
        f"{listing(sorted(params['tls_versions']))}",
    )


@pytest.mark.requirement("SMTP-AUTH")
def test_smtp_accepts_the_account_only_after_tls(mailer, smtp_evidence, expect):
    auth = mailer.authenticate()
    evidence = {**auth.evidence, "mechanisms": list(auth.mechanisms), "targets": smtp_evidence}
    expect.equal("AUTH mechanisms offered before TLS", list(auth.mechanisms_in_clear), [], evidence=evidence)
    expect.true(
        "AUTH over TLS",
        auth.tls,
        observed="TLS before AUTH" if auth.tls else "no TLS session: the password was not sent",
        expected="TLS before AUTH",
        evidence=evidence,
    )
    expect.true(
        "the configured account is accepted",
        bool(auth.accepted),
        observed=auth.reply,
        expected="235 authentication successful",
        evidence=evidence,
    )


@pytest.mark.requirement("SMTP-DELIVERY", effect="write")
def test_a_message_tagged_with_the_run_id_is_read_back(
    mailer, mailbox, smtp, targets, run_id, smtp_evidence, expect, params, probe_timeout
):
    policy = sender_domain_policy(smtp.sender or "", targets.get("edge.resolver"), timeout=min(3.0, probe_timeout))
    sent = None
    try:
        sent = mailer.send(run_id)
        evidence = {**sent.evidence, "sender_domain": vars(policy), "targets": smtp_evidence}
        expect.true(
            "test message accepted by the SMTP server",
            sent.accepted,
            observed=sent.reply,
            expected="250 accepted",
            evidence=evidence,
        )
        received = mailbox.wait_for(sent, within=params["timeout_s"])
        evidence = {**evidence, **received.evidence, "searched_for_s": received.searched_for_s}
        expect.true(
            "test message read back over IMAP",
            received.found,
            observed="read back" if received.found else f"not in the mailbox after {received.searched_for_s:g} s",
            expected=f"there within {params['timeout_s']} s",
            evidence=evidence,
        )
        expect.at_most("delivery latency", received.latency_s, params["timeout_s"], unit="s", evidence=evidence)
    finally:
        if sent is not None:
            mailbox.delete(sent.tag)
