"""Verdicts of the SMTP suite (SMTP-TLS, SMTP-AUTH, SMTP-DELIVERY) against the sandbox's mail server.

SMTP is optional: unmet expectations are `warn`, a run without SMTP in the targets skips all three and
keeps its verdict, and nothing the delivery check sends stays in the mailbox.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from readiness.probes.smtp import ImapSettings, Mailbox
from readiness.sandbox import Sandbox
from tests.suite_run import ROOT, Verdicts
from tests.verdict.targets_override import DROP, targets_option

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SMTP = ("SMTP-TLS", "SMTP-AUTH", "SMTP-DELIVERY")
CONFORMANT = dict.fromkeys(SMTP, "pass")
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"  # the public trust store: it does not know the sandbox CA


def outcomes(verdicts: Verdicts) -> dict[str, str]:
    return {rid: verdicts.outcome(rid) for rid in SMTP}


def left_in_mailbox(sandbox: Sandbox, verdicts: Verdicts) -> int:
    """Messages of this run still in the recipient's mailbox, read over IMAPS as a user would."""
    imap = sandbox.targets()["imap"]
    settings = ImapSettings(
        host=imap["host"],  # type: ignore[index]
        port=int(imap["port"]),  # type: ignore[index]
        address=imap["address"],  # type: ignore[index]
        username=imap["username"],  # type: ignore[index]
        password=Path(imap["password_file"]).read_text().strip(),  # type: ignore[index]
        ca_bundle=str(sandbox.targets_path.parent / "pki" / "root-ca.pem"),
    )
    run_id = verdicts.results["SMTP-DELIVERY"]["evidence"]["tag"].rsplit("-", 1)[0]
    return Mailbox(settings, timeout=10).count(run_id)


def assert_no_secret(sandbox: Sandbox, verdicts: Verdicts) -> None:
    """The canary: the SMTP account's password reaches neither the output nor the report."""
    password = sandbox.ctx.secret_path("smtp").read_text().strip().encode()
    texts = [verdicts.output.encode()] + [p.read_bytes() for p in verdicts.report_dir.rglob("*") if p.is_file()]
    assert not any(password in text for text in texts)


@pytest.fixture(scope="module")
def conformant(suites) -> Verdicts:
    return suites.run("smtp")


def test_conformant_mail_server_passes_all_three_and_leaves_nothing(suites, conformant):
    assert outcomes(conformant) == CONFORMANT, conformant.output[-3000:]
    assert conformant.code == 0
    assert conformant.results["SMTP-TLS"]["observed_value"] in ("TLSv1.2", "TLSv1.3")
    assert conformant.results["SMTP-DELIVERY"]["unit"] == "s"  # the delivery latency is what is reported
    delivery = conformant.results["SMTP-DELIVERY"]["evidence"]
    assert delivery["sender_domain"]["spf"].startswith("v=spf1")
    assert delivery["sender_domain"]["dmarc"].startswith("v=DMARC1")
    assert left_in_mailbox(suites.sandbox, conformant) == 0
    assert_no_secret(suites.sandbox, conformant)


def test_no_starttls_warns_tls_and_auth_and_sends_nothing_in_the_clear(suites):
    with suites.scenario("smtp-no-starttls"):
        verdicts = suites.run("smtp")
    assert outcomes(verdicts) == {"SMTP-TLS": "warn", "SMTP-AUTH": "warn", "SMTP-DELIVERY": "warn"}
    assert "STARTTLS not offered" in verdicts.results["SMTP-TLS"]["message"]
    assert "AUTH mechanisms offered before TLS" in verdicts.results["SMTP-AUTH"]["message"]
    assert "never sent in the clear" in verdicts.results["SMTP-DELIVERY"]["message"]
    assert verdicts.code == 0  # optional: warnings do not block
    assert_no_secret(suites.sandbox, verdicts)


def test_refused_credentials_warn_auth_with_the_server_reply(suites):
    with suites.scenario("smtp-bad-auth"):
        verdicts = suites.run("smtp")
    assert outcomes(verdicts) == {"SMTP-TLS": "pass", "SMTP-AUTH": "warn", "SMTP-DELIVERY": "warn"}
    assert "535" in verdicts.results["SMTP-AUTH"]["message"]


def test_a_mailbox_that_never_receives_warns_delivery_only(suites, tmp_path):
    profile = tmp_path / "quick.yaml"
    profile.write_text(
        f"name: quick\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nrequirements:\n"
        "  SMTP-DELIVERY: {params: {timeout_s: 3}}\n"
    )
    with suites.scenario("smtp-blackhole"):
        verdicts = suites.run("smtp", profile=str(profile))
    assert outcomes(verdicts) == {"SMTP-TLS": "pass", "SMTP-AUTH": "pass", "SMTP-DELIVERY": "warn"}
    assert "not in the mailbox after" in verdicts.results["SMTP-DELIVERY"]["message"]


def test_a_certificate_the_configured_ca_does_not_vouch_for_warns_tls(suites, tmp_path):
    system_store = targets_option(suites.sandbox, tmp_path, "system-ca", {"smtp.ca_bundle": SYSTEM_CA})
    verdicts = suites.run("smtp", extra=(system_store,))
    assert verdicts.outcome("SMTP-TLS") == "warn"
    assert "certificate valid for smtp.prefect.sandbox.test" in verdicts.results["SMTP-TLS"]["message"]
    # with no TLS it trusts, the account is never tried and nothing is sent: each says why
    assert verdicts.outcome("SMTP-AUTH") == verdicts.outcome("SMTP-DELIVERY") == "error"
    assert "certificate verify failed" in verdicts.results["SMTP-AUTH"]["message"]


def test_without_smtp_in_the_targets_all_three_skip_and_the_verdict_stands(suites, tmp_path, conformant):
    # beside a suite that evaluates something (a run that evaluates nothing is INCOMPLETE by design)
    changes = {"smtp": DROP, "imap": DROP, "oidc.login": "password"}
    no_mail = targets_option(suites.sandbox, tmp_path, "no-smtp", changes)
    verdicts = suites.run("identity", "smtp", extra=(no_mail,))
    assert outcomes(verdicts) == dict.fromkeys(SMTP, "skip")
    assert "SMTP is optional and not configured" in verdicts.results["SMTP-TLS"]["message"]
    assert verdicts.outcome("SSO-LOGIN") == "pass"
    assert verdicts.code == conformant.code == 0  # PASS, as with SMTP


@contextmanager
def closes_after_ehlo() -> Iterator[int]:
    """An SMTP server that greets, answers EHLO, then hangs up: a relay dropping clients it dislikes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.sendall(b"220 relay.example ESMTP\r\n")
                    conn.recv(1024)
                    conn.sendall(b"250-relay.example\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_server_that_closes_after_ehlo_is_an_error_with_the_cause(suites, tmp_path):
    with closes_after_ehlo() as port:
        option = targets_option(suites.sandbox, tmp_path, "closing", {"smtp.port": port})
        started = time.monotonic()
        verdicts = suites.run("smtp", extra=(option,))
    assert outcomes(verdicts) == dict.fromkeys(SMTP, "error"), verdicts.output[-3000:]
    assert "closed the connection" in verdicts.results["SMTP-TLS"]["message"]
    assert time.monotonic() - started < 60
