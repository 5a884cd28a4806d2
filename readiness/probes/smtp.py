"""The mail probe: an SMTP submission server (TLS, AUTH, sending) and the mailbox that receives (IMAPS).

smtplib and imaplib from the standard library speak the protocols; this module turns their replies
into typed observations and their exceptions into one line a person can act on. The password is
never sent before TLS is up: a server that offers AUTH only in the clear is reported, not tried.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import secrets
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from readiness.core.expect import CheckError, now_iso
from readiness.core.redact import default_redactor
from readiness.probes.errors import describe_connection_failure
from readiness.probes.http import tls_verify

if TYPE_CHECKING:
    from readiness.targets import Targets

SUBMISSION_PORT = 587

IMPLICIT_TLS_PORT = 465
RUN_HEADER = "X-Readiness-Run"


class _MailServer:
    """What SMTP and IMAP settings share: the password is redacted everywhere, `where` names the server."""

    host: str
    port: int
    address: str | None
    password: str | None

    def __post_init__(self) -> None:
        default_redactor().add(self.password)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}" + (f" (at {self.address})" if self.address else "")


@dataclass(frozen=True)
class SmtpSettings(_MailServer):
    host: str  # the name the certificate must carry and the EHLO greets
    port: int
    address: str | None = None  # where to connect, when the name does not resolve from here
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    recipient: str | None = None
    ca_bundle: str | None = None
    #: TLS from the first byte (SMTPS) instead of STARTTLS; None: on port 465, as RFC 8314 assigns it
    implicit_tls: bool | None = None

    @classmethod
    def from_targets(cls, targets: Targets) -> SmtpSettings:
        """The submission server as the targets' smtp.* describe it (port 587 unless smtp.port says)."""
        return cls(
            host=str(targets.get("smtp.host")),
            port=int(targets.get("smtp.port") or SUBMISSION_PORT),
            address=targets.get("smtp.address"),
            username=targets.get("smtp.username"),
            password=targets.get("smtp.password"),
            sender=targets.get("smtp.sender"),
            recipient=targets.get("smtp.recipient"),
            ca_bundle=targets.ca_bundle("smtp"),
        )


@dataclass(frozen=True)
class ImapSettings(_MailServer):
    host: str
    port: int
    address: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mailbox: str = "INBOX"
    ca_bundle: str | None = None

    @classmethod
    def from_targets(cls, targets: Targets) -> ImapSettings:
        """The mailbox that receives as the targets' imap.* describe it (port 993 unless imap.port says),
        trusting the CA bundle of smtp: one mail install."""
        return cls(
            host=str(targets.get("imap.host")),
            port=int(targets.get("imap.port") or 993),
            address=targets.get("imap.address"),
            username=targets.get("imap.username"),
            password=targets.get("imap.password"),
            mailbox=targets.get("imap.mailbox") or "INBOX",
            ca_bundle=targets.ca_bundle("smtp"),
        )


@dataclass(frozen=True)
class SmtpTls:
    implicit_tls: bool
    starttls_offered: bool
    #: the negotiated protocol ("TLSv1.3"), None when no TLS session came up
    tls_version: str | None
    certificate_valid: bool
    certificate_error: str | None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        return self.tls_version is not None


@dataclass(frozen=True)
class SmtpAuth:
    #: mechanisms offered before TLS (should be none) and after
    mechanisms_in_clear: tuple[str, ...]
    mechanisms: tuple[str, ...]
    tls: bool
    #: True/False when tried over TLS; None when not tried (no TLS: the password is not sent in the clear)
    accepted: bool | None
    reply: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sent:
    tag: str
    message_id: str
    accepted: bool
    reply: str | None
    sent_at: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    found: bool
    latency_s: float | None
    searched_for_s: float
    evidence: dict[str, Any] = field(default_factory=dict)


class _NamedSMTPS(smtplib.SMTP_SSL):
    """SMTP over implicit TLS that verifies the certificate for `server_name`, wherever it connects."""

    def __init__(self, server_name: str, **kwargs: Any) -> None:
        self._server_name = server_name
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._server_name)


class _NamedIMAPS(imaplib.IMAP4_SSL):
    """IMAPS that verifies the certificate for `server_name`, wherever it connects."""

    def __init__(self, server_name: str, *args: Any, **kwargs: Any) -> None:
        self._server_name = server_name
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = imaplib.IMAP4._create_socket(self, timeout)  # type: ignore[attr-defined]
        return self.ssl_context.wrap_socket(sock, server_hostname=self._server_name)


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(body.split())}"


def _mechanisms(smtp: smtplib.SMTP) -> tuple[str, ...]:
    return tuple(smtp.esmtp_features.get("auth", "").upper().split()) if smtp.has_extn("auth") else ()


class Mailer:
    """One SMTP submission server."""

    def __init__(self, settings: SmtpSettings, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.context = tls_verify(settings.ca_bundle)

    @property
    def implicit_tls(self) -> bool:
        if self.settings.implicit_tls is not None:
            return self.settings.implicit_tls
        return self.settings.port == IMPLICIT_TLS_PORT

    @contextlib.contextmanager
    def _session(self, context: ssl.SSLContext | None = None) -> Iterator[smtplib.SMTP]:
        """Connected and greeted with EHLO; over TLS from the start on port 465."""
        s = self.settings
        context = context or self.context
        smtp: smtplib.SMTP
        try:
            if self.implicit_tls:
                smtp = _NamedSMTPS(s.host, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(timeout=self.timeout)
            smtp.connect(s.address or s.host, s.port)
            smtp.ehlo(socket.getfqdn() or "localhost")
        except (OSError, smtplib.SMTPException) as exc:
            raise CheckError(self._cause(exc, "connect")) from None
        try:
            yield smtp
        except smtplib.SMTPServerDisconnected as exc:
            raise CheckError(self._cause(exc, "talk to")) from None
        except TimeoutError as exc:
            raise CheckError(self._cause(exc, "talk to")) from None
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            with contextlib.suppress(OSError):
                smtp.close()

    def _cause(self, exc: BaseException, doing: str) -> str:
        where = self.settings.where
        line = describe_connection_failure(
            exc, f"SMTP server {where}", timeout=self.timeout, trust_hint="check smtp.ca_bundle",
            host_hint="set smtp.address",
        )  # fmt: skip
        return line or f"cannot {doing} SMTP server {where}: {type(exc).__name__}: {exc}"

    def _starttls(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        # smtplib checks the certificate against the name it connected to; that is the address when one is
        # configured, so name the host for SNI and verification explicitly.
        smtp._host = self.settings.host  # type: ignore[attr-defined]
        smtp.starttls(context=context)
        smtp.ehlo(socket.getfqdn() or "localhost")

    def _tls_version(self, smtp: smtplib.SMTP) -> str | None:
        sock = smtp.sock
        return sock.version() if isinstance(sock, ssl.SSLSocket) else None

    def tls(self) -> SmtpTls:
        """Whether TLS comes up (STARTTLS, or implicit on 465) and the certificate verifies for the host."""
        evidence: dict[str, Any] = {"server": self.settings.where, "at": now_iso()}
        try:
            with self._session() as smtp:
                evidence["ehlo"] = " ".join((smtp.ehlo_resp or b"").decode(errors="replace").split())
                if self.implicit_tls:
                    return SmtpTls(True, False, self._tls_version(smtp), True, None, evidence)
                if not smtp.has_extn("starttls"):
                    return SmtpTls(False, False, None, False, None, evidence)
                try:
                    self._starttls(smtp, self.context)
                except ssl.SSLCertVerificationError as exc:
                    problem = f"{exc.verify_message} (host {self.settings.host})"
                    return SmtpTls(False, True, None, False, problem, evidence)
                except ssl.SSLError as exc:
                    return SmtpTls(False, True, None, False, f"TLS handshake failed: {exc}", evidence)
                except smtplib.SMTPResponseException as exc:
                    evidence["starttls_reply"] = _reply(exc.smtp_code, exc.smtp_error)
                    return SmtpTls(False, True, None, False, None, evidence)
                return SmtpTls(False, True, self._tls_version(smtp), True, None, evidence)
        except CheckError as exc:
            if self.implicit_tls and ("not trusted" in str(exc) or "does not name the host" in str(exc)):
                return SmtpTls(True, False, None, False, str(exc), evidence)
            raise

    def authenticate(self) -> SmtpAuth:
        """AUTH with the configured account, over TLS only; which mechanisms are offered before and after."""
        s = self.settings
        if not s.username or not s.password:
            raise CheckError("smtp.username and smtp.password are not both configured; AUTH needs them")
        evidence: dict[str, Any] = {"server": s.where, "username": s.username, "at": now_iso()}
        with self._session() as smtp:
            in_clear = () if self.implicit_tls else _mechanisms(smtp)
            if not self.implicit_tls and smtp.has_extn("starttls"):
                try:
                    self._starttls(smtp, self.context)
                except ssl.SSLError as exc:
                    raise CheckError(f"STARTTLS with SMTP server {s.where} failed: {exc}") from None
            tls = self._tls_version(smtp) is not None
            mechanisms = _mechanisms(smtp)
            if not tls:
                return SmtpAuth(in_clear, mechanisms, False, None, None, evidence)
            try:
                code, text = smtp.login(s.username, s.password)
                return SmtpAuth(in_clear, mechanisms, True, True, _reply(code, text), evidence)
            except smtplib.SMTPAuthenticationError as exc:
                return SmtpAuth(in_clear, mechanisms, True, False, _reply(exc.smtp_code, exc.smtp_error), evidence)
            except smtplib.SMTPNotSupportedError:
                return SmtpAuth(in_clear, mechanisms, True, False, "AUTH not offered after TLS", evidence)
            except smtplib.SMTPException as exc:
                return SmtpAuth(in_clear, mechanisms, True, False, f"{type(exc).__name__}: {exc}", evidence)

    def send(self, run_id: str) -> Sent:
        """One test message tagged with the run ID, over TLS with AUTH; refused replies are results."""
        s = self.settings
        if not s.sender or not s.recipient:
            raise CheckError("smtp.sender and smtp.recipient are not both configured; the test message needs them")
        tag = f"{run_id}-{secrets.token_hex(4)}"
        domain = s.sender.rpartition("@")[2] or "localhost"
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = s.recipient
        message["Subject"] = f"prefect-readiness delivery check {tag}"
        message[RUN_HEADER] = tag
        message["Message-ID"] = make_msgid("readiness", domain=domain)
        message.set_content(
            "A test message from prefect-readiness (SMTP-DELIVERY). It is deleted again once read back.\n"
        )
        evidence: dict[str, Any] = {"server": s.where, "from": s.sender, "to": s.recipient, "tag": tag}

        def result(accepted: bool, reply: str | None) -> Sent:
            evidence["at"] = now_iso()
            return Sent(tag, str(message["Message-ID"]), accepted, reply, time.time(), evidence)

        with self._session() as smtp:
            if not self.implicit_tls:
                if not smtp.has_extn("starttls"):
                    return result(False, "not sent: no STARTTLS, and the password is never sent in the clear")
                try:
                    self._starttls(smtp, self.context)
                except ssl.SSLError as exc:
                    raise CheckError(f"STARTTLS with SMTP server {s.where} failed: {exc}") from None
            try:
                if s.username and s.password:
                    smtp.login(s.username, s.password)
                refused = smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                return result(False, f"recipient refused: {_reply(code, text)}")
            except smtplib.SMTPResponseException as exc:
                return result(False, _reply(exc.smtp_code, exc.smtp_error))
            if refused:
                return result(False, f"refused for {', '.join(refused)}")
            return result(True, "250 accepted")


class Mailbox:
    """The recipient's mailbox, over IMAP with implicit TLS (IMAPS)."""

    def __init__(self, settings: ImapSettings, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.context = tls_verify(settings.ca_bundle)

    @contextlib.contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4_SSL]:
        s = self.settings
        if not s.username or not s.password:
            raise CheckError("imap.username and imap.password are not both configured; reading back needs them")
        try:
            imap = _NamedIMAPS(s.host, s.address or s.host, s.port, ssl_context=self.context, timeout=self.timeout)
        except (OSError, imaplib.IMAP4.error) as exc:
            line = describe_connection_failure(
                exc, f"IMAP server {s.where}", timeout=self.timeout, trust_hint="check imap.ca_bundle"
            )
            raise CheckError(line or f"cannot connect to IMAP server {s.where}: {exc}") from None
        try:
            try:
                imap.login(s.username, s.password)
            except imaplib.IMAP4.error as exc:
                raise CheckError(f"IMAP server {s.where} refused the login of {s.username}: {exc}") from None
            status, _ = imap.select(_quoted(s.mailbox))
            if status != "OK":
                raise CheckError(f"IMAP server {s.where} has no mailbox {s.mailbox!r}")
            yield imap
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise CheckError(f"IMAP server {s.where} dropped the session: {exc}") from None
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()

    def _search(self, imap: imaplib.IMAP4_SSL, tag: str) -> list[bytes]:
        status, data = imap.search(None, "HEADER", RUN_HEADER, _quoted(tag))
        return data[0].split() if status == "OK" and data and data[0] else []

    def wait_for(self, sent: Sent, within: float, poll: float = 0.5) -> Received:
        started = time.monotonic()
        with self._session() as imap:
            while True:
                if self._search(imap, sent.tag):
                    seen = time.time()
                    return Received(
                        True,
                        round(seen - sent.sent_at, 2),
                        round(time.monotonic() - started, 2),
                        {"mailbox": f"{self.settings.where} {self.settings.mailbox}", "at": now_iso()},
                    )
                if time.monotonic() - started >= within:
                    return Received(
                        False,
                        None,
                        round(time.monotonic() - started, 2),
                        {"mailbox": f"{self.settings.where} {self.settings.mailbox}", "at": now_iso()},
                    )
                time.sleep(poll)
                imap.noop()

    def delete(self, tag: str) -> int:
        """Delete every message carrying the tag; how many there were."""
        with self._session() as imap:
            found = self._search(imap, tag)
            for number in found:
                imap.store(number.decode(), "+FLAGS", "\\Deleted")
            if found:
                imap.expunge()
            return len(found)

    def count(self, tag: str) -> int:
        with self._session() as imap:
            return len(self._search(imap, tag))


def _quoted(text: str) -> str:
    return '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'


@dataclass(frozen=True)
class SenderDomainPolicy:
    """SPF and DMARC records of the sender's domain: evidence for delivery, not a verdict."""

    domain: str
    spf: str | None
    dmarc: str | None
    note: str | None = None


def sender_domain_policy(sender: str, resolver_address: str | None, timeout: float = 3.0) -> SenderDomainPolicy:
    import dns.exception
    import dns.resolver

    domain = sender.rpartition("@")[2]
    resolver = dns.resolver.Resolver(configure=resolver_address is None)
    if resolver_address:
        host, _, port = resolver_address.rpartition(":")
        resolver.nameservers = [host or resolver_address]
        if port.isdigit() and host:
            resolver.port = int(port)
    resolver.lifetime = timeout

    def txt(name: str, prefix: str) -> str | None:
        try:
            answer = resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        for rdata in answer:
            text = b"".join(rdata.strings).decode(errors="replace")
            if text.lower().startswith(prefix):
                return text
        return None

    try:
        return SenderDomainPolicy(domain, txt(domain, "v=spf1"), txt(f"_dmarc.{domain}", "v=dmarc1"))
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return SenderDomainPolicy(domain, None, None, f"lookup failed: {exc}")
