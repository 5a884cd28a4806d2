"""An authoritative DNS server (dnslib) for one zone file, on a loopback UDP and TCP port.

    python -m readiness.sandbox.services.dns_server ZONE_FILE PORT

The zone file (BIND syntax) is read again whenever it changes, so a scenario edits it in place.
Names in the zone answer authoritatively (AA); missing names get NXDOMAIN with the SOA; names outside
the zone are REFUSED (it is not a recursive resolver).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

HOST = "127.0.0.1"


class ZoneResolver(BaseResolver):
    def __init__(self, zone_file: Path) -> None:
        self.zone_file = zone_file
        self._mtime = 0.0
        self._lock = threading.Lock()
        self.records: list[RR] = []
        self.origin = DNSLabel(".")
        self._reload()

    def _reload(self) -> None:
        mtime = self.zone_file.stat().st_mtime
        if mtime == self._mtime:
            return
        with self._lock:
            records = list(RR.fromZone(self.zone_file.read_text()))
            soa = [r for r in records if r.rtype == QTYPE.SOA]
            if not soa:
                raise ValueError(f"{self.zone_file} has no SOA record")
            self.records = records
            self.origin = soa[0].rname
            self._mtime = mtime

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        self._reload()
        reply = request.reply()
        qname = request.q.qname
        qtype = request.q.qtype
        if not qname.matchSuffix(self.origin):
            reply.header.rcode = RCODE.REFUSED
            reply.header.aa = 0
            return reply
        reply.header.aa = 1
        named = [r for r in self.records if r.rname == qname]
        if not named:
            reply.header.rcode = RCODE.NXDOMAIN
        for rr in named:
            if qtype in (QTYPE.ANY, rr.rtype) or rr.rtype == QTYPE.CNAME:
                reply.add_answer(rr)
        if not reply.rr:
            reply.add_auth(*[r for r in self.records if r.rtype == QTYPE.SOA])
        return reply


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    zone_file, port = Path(args[0]), int(args[1])
    resolver = ZoneResolver(zone_file)
    logger = DNSLogger("-request,-reply,-truncated,-data", prefix=False)
    servers = [
        DNSServer(resolver, port=port, address=HOST, logger=logger),
        DNSServer(resolver, port=port, address=HOST, tcp=True, logger=logger),
    ]
    for server in servers:
        server.start_thread()
    print(f"dns: authoritative for {resolver.origin} on {HOST}:{port} udp+tcp", flush=True)
    try:
        while all(s.isAlive() for s in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
