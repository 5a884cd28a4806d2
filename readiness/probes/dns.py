"""DNS as the clients see it (dnspython): what a name resolves to, following CNAMEs, and the CAA policy
that governs it (RFC 8659: the closest ancestor that has CAA records).

The resolver is the targets' ``edge.resolver`` ("ip" or "ip:port"), else the system's. A name that does
not exist, a server that never answers and a refused query are each a :class:`CheckError` with the cause.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from readiness.core.expect import CheckError, now_iso


@dataclass(frozen=True)
class Resolution:
    name: str
    addresses: list[str]  # A and AAAA, at the end of the CNAME chain
    cnames: list[str]  # the chain followed, in order
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def canonical_name(self) -> str:
        return self.cnames[-1] if self.cnames else self.name


@dataclass(frozen=True)
class CaaRecord:
    flags: int
    tag: str
    value: str

    def __str__(self) -> str:
        return f'{self.flags} {self.tag} "{self.value}"'


@dataclass(frozen=True)
class CaaPolicy:
    """The CAA records that apply to `name`, found at `found_at` (None: no CAA anywhere up the tree)."""

    name: str
    found_at: str | None
    records: list[CaaRecord]
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return bool(self.records)

    def issuers(self, wildcard: bool = False) -> list[str]:
        """The issuer domains the `issue` (or, for a wildcard, `issuewild`) records name; '' means none."""
        tag = "issuewild" if wildcard and any(r.tag == "issuewild" for r in self.records) else "issue"
        return [r.value.split(";", 1)[0].strip().lower() for r in self.records if r.tag == tag]

    def allows(self, issuer: str, wildcard: bool = False) -> bool:
        """RFC 8659 §4: no CAA at all allows any CA; otherwise the issuer must be named."""
        if not self.present:
            return True
        return issuer.strip().lower() in self.issuers(wildcard)


class Resolver:
    """A stub resolver bound to one server (or the system's), with one timeout for every lookup."""

    def __init__(self, server: str | None, timeout: float) -> None:
        self.timeout = timeout
        if server:
            host, port = _split_server(server)
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host]
            self._resolver.port = port
            self.server = f"{host}:{port}"
        else:
            try:
                self._resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                raise CheckError("no DNS resolver configured on this host; set edge.resolver in the targets") from None
            self.server = ", ".join(self._resolver.nameservers) + " (system)"
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout

    def _query(self, name: str, rdtype: str, missing_ok: bool) -> dns.resolver.Answer | None:
        try:
            return self._resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            if missing_ok:
                return None
            raise CheckError(f"{name} does not resolve: NXDOMAIN from {self.server}") from None
        except dns.resolver.LifetimeTimeout:
            raise CheckError(
                f"DNS server {self.server} did not answer {rdtype} {name} within {self.timeout:g} s"
            ) from None
        except dns.resolver.NoNameservers as exc:
            raise CheckError(f"DNS server {self.server} refused or failed {rdtype} {name}: {exc}") from None
        except dns.exception.DNSException as exc:
            raise CheckError(f"DNS lookup {rdtype} {name} at {self.server} failed: {exc}") from None

    def addresses(self, name: str) -> Resolution:
        """A and AAAA of `name`, following CNAMEs (also when an authoritative server leaves the chase to
        the client); CheckError when it does not resolve at all."""
        name = name.rstrip(".")
        addresses: list[str] = []
        cnames: list[str] = []
        answers: dict[str, list[str]] = {}
        for rdtype in ("A", "AAAA"):
            current = name
            for _ in range(8):  # CNAME hops
                answer = self._query(current, rdtype, missing_ok=False)
                assert answer is not None
                for rrset in answer.response.answer:
                    text = [rd.to_text() for rd in rrset]
                    answers.setdefault(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}", []).extend(text)
                    if rrset.rdtype == dns.rdatatype.CNAME:
                        for rd in rrset:
                            target = rd.target.to_text().rstrip(".")
                            if target not in cnames:
                                cnames.append(target)
                if answer.rrset is not None:
                    addresses += [rd.address for rd in answer.rrset if rd.address not in addresses]
                    break
                if not cnames or cnames[-1] == current:
                    break
                current = cnames[-1]
        if not addresses:
            raise CheckError(f"{name} has no A or AAAA record at {self.server}")
        evidence = {"query": f"A/AAAA {name}", "resolver": self.server, "answers": answers, "at": now_iso()}
        return Resolution(name, addresses, cnames, evidence)

    def addresses_of(self, name_or_ip: str) -> Resolution:
        """An IP stays itself; a name (an AWS ELB host name, say) is resolved."""
        try:
            ipaddress.ip_address(name_or_ip)
        except ValueError:
            return self.addresses(name_or_ip)
        return Resolution(name_or_ip, [name_or_ip], [], {"literal": name_or_ip})

    def caa(self, name: str) -> CaaPolicy:
        """The CAA records that apply to `name`: its own, else its closest ancestor's (RFC 8659 §3)."""
        current = dns.name.from_text(name.rstrip("."))
        asked: list[str] = []
        while current != dns.name.root:
            text = current.to_text().rstrip(".")
            asked.append(text)
            answer = self._query(text, "CAA", missing_ok=True)
            if answer is not None and answer.rrset is not None:
                records = [CaaRecord(rd.flags, rd.tag.decode(), rd.value.decode()) for rd in answer.rrset]
                evidence = {"asked": asked, "found_at": text, "records": [str(r) for r in records],
                            "resolver": self.server, "at": now_iso()}  # fmt: skip
                return CaaPolicy(name, text, records, evidence)
            current = current.parent()
        return CaaPolicy(name, None, [], {"asked": asked, "records": [], "resolver": self.server, "at": now_iso()})

    def query(self, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
        """One raw query to the configured server (for the sandbox's own tests of its DNS server)."""
        import dns.query

        host, _, port = self.server.rpartition(":")
        message = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
        send = dns.query.tcp if tcp else dns.query.udp
        try:
            return send(message, host, port=int(port), timeout=self.timeout)
        except dns.exception.Timeout:
            raise CheckError(
                f"DNS server {self.server} did not answer {rdtype} {name} within {self.timeout:g} s"
            ) from None


def answers(response: dns.message.Message) -> list[str]:
    """The answer section's records as text."""
    return [rd.to_text() for rrset in response.answer for rd in rrset]


def authoritative(response: dns.message.Message) -> bool:
    return bool(response.flags & dns.flags.AA)


def _split_server(server: str) -> tuple[str, int]:
    text = server.strip()
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53
