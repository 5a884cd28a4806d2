"""An authoritative DNS server for the sandbox zone on a loopback UDP+TCP port (``dns_server``, dnslib).

Records: A for api./app./sso. (the ingress) and the service names, CAA naming the sandbox CA, MX,
SPF and DMARC for the mail domain. Scenario ``dns-wrong-address`` points api./app. at 127.0.0.2,
where nothing listens (kept on loopback on purpose), by editing the zone file the server re-reads;
``caa-wrong-issuer`` lets only another CA (OTHER_CA) issue for the zone.
"""

from __future__ import annotations

import sys

from readiness.sandbox.base import Component, ComponentStatus, wait_until
from readiness.sandbox.services.common import CA_IDENTIFIER, DOMAIN, LOOPBACK

WRONG_ADDRESS = "127.0.0.2"
OTHER_CA = "letsencrypt.org"


class DnsComponent(Component):
    name = "dns"
    after = ("pki",)
    scenarios = {
        "dns-wrong-address": f"api. and app. resolve to {WRONG_ADDRESS}, not the ingress",
        "caa-wrong-issuer": f"the zone's CAA lets only {OTHER_CA} issue, not the sandbox CA",
    }

    @property
    def port(self) -> int:
        return self.ctx.port("dns")

    @property
    def zone_file(self):  # type: ignore[no-untyped-def]
        return self.ctx.data_dir("dns") / f"{DOMAIN}.zone"

    def _zone(self) -> str:
        ingress = WRONG_ADDRESS if "dns-wrong-address" in self.ctx.active_scenarios() else LOOPBACK
        issuer = OTHER_CA if "caa-wrong-issuer" in self.ctx.active_scenarios() else CA_IDENTIFIER
        serial = int(self.ctx.get("dns_serial", 1))  # type: ignore[arg-type]
        return f"""$ORIGIN {DOMAIN}.
$TTL 60
@        IN SOA   ns1 hostmaster {serial} 3600 600 86400 60
@        IN NS    ns1
ns1      IN A     {LOOPBACK}
@        IN CAA   0 issue "{issuer}"
@        IN CAA   0 issuewild ";"
@        IN CAA   0 iodef "mailto:security@{DOMAIN}"
api      IN A     {ingress}
app      IN A     {ingress}
sso      IN A     {LOOPBACK}
postgres IN A     {LOOPBACK}
redis    IN A     {LOOPBACK}
smtp     IN A     {LOOPBACK}
imap     IN A     {LOOPBACK}
@        IN MX    10 smtp
@        IN TXT   "v=spf1 ip4:{LOOPBACK} -all"
_dmarc   IN TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"
"""

    def _write_zone(self) -> None:
        tmp = self.zone_file.with_suffix(".tmp")
        tmp.write_text(self._zone())
        tmp.replace(self.zone_file)

    def _answers(self, name: str = f"api.{DOMAIN}", rdtype: str = "A") -> list[str]:
        import dns.message
        import dns.query
        import dns.rdatatype

        try:
            query = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
            response = dns.query.udp(query, LOOPBACK, port=self.port, timeout=1)
        except Exception:
            return []
        return [rd.to_text() for rrset in response.answer for rd in rrset]

    def up(self) -> None:
        self._write_zone()
        if self.ctx.is_running("dns") and self._answers():
            return
        self.ctx.stop("dns")
        self.ctx.spawn(
            "dns",
            [sys.executable, "-m", "readiness.sandbox.services.dns_server", self.zone_file, str(self.port)],
        )
        wait_until(lambda: bool(self._answers()), 20, "sandbox DNS server", self.ctx.log_path("dns"))

    def down(self) -> None:
        self.ctx.stop("dns")

    def status(self) -> ComponentStatus:
        answers = self._answers()
        return ComponentStatus(
            self.name,
            self.ctx.is_running("dns") and bool(answers),
            f"authoritative for {DOMAIN} on {LOOPBACK}:{self.port}; api. -> {', '.join(answers) or '?'}",
            [self.ctx.process_status("dns")],
        )

    def targets(self) -> dict[str, object]:
        return {"edge": {"resolver": f"{LOOPBACK}:{self.port}", "caa_issuer": CA_IDENTIFIER}}

    def env(self) -> dict[str, str]:
        return {
            "READINESS_DNS_SERVER": f"{LOOPBACK}:{self.port}",
            "READINESS_DNS_ZONE": DOMAIN,
            "READINESS_CA_IDENTIFIER": CA_IDENTIFIER,
        }

    def reconfigure(self) -> None:
        self.ctx.set("dns_serial", int(self.ctx.get("dns_serial", 1)) + 1)  # type: ignore[arg-type]
        self._write_zone()
        active = self.ctx.active_scenarios()
        want = WRONG_ADDRESS if "dns-wrong-address" in active else LOOPBACK
        issuer = OTHER_CA if "caa-wrong-issuer" in active else CA_IDENTIFIER
        wait_until(
            lambda: self._answers() == [want] and f'0 issue "{issuer}"' in self._answers(DOMAIN, "CAA"),
            10,
            "DNS zone change",
        )
