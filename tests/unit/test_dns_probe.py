"""The DNS probe against a real authoritative server (the sandbox's dnslib server) on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib.server import DNSLogger, DNSServer

from readiness.core.expect import CheckError
from readiness.probes.dns import Resolver
from readiness.sandbox.services.dns_server import ZoneResolver

ZONE = """$ORIGIN example.test.
$TTL 60
@        IN SOA   ns1 hostmaster 1 3600 600 86400 60
@        IN NS    ns1
ns1      IN A     127.0.0.1
@        IN CAA   0 issue "ca.example.test; account=1"
@        IN CAA   0 issuewild ";"
lb       IN A     127.0.0.10
lb       IN A     127.0.0.11
api      IN CNAME lb
app      IN A     127.0.0.12
own      IN CAA   0 issue "other.example"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    zone = Path(tmp_path_factory.mktemp("zone")) / "example.test.zone"
    zone.write_text(ZONE)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dns = DNSServer(ZoneResolver(zone), port=port, address="127.0.0.1", logger=DNSLogger("-request,-reply"))
    dns.start_thread()
    yield f"127.0.0.1:{port}"
    dns.stop()


def test_a_cname_is_followed_to_the_addresses(server: str) -> None:
    found = Resolver(server, 2).addresses("api.example.test")
    assert sorted(found.addresses) == ["127.0.0.10", "127.0.0.11"]
    assert found.cnames == ["lb.example.test"] and found.canonical_name == "lb.example.test"


def test_a_missing_name_is_an_error_naming_the_server(server: str) -> None:
    with pytest.raises(CheckError, match=f"nope.example.test does not resolve: NXDOMAIN from {server}"):
        Resolver(server, 2).addresses("nope.example.test")


def test_caa_comes_from_the_closest_ancestor_and_names_the_issuers(server: str) -> None:
    policy = Resolver(server, 2).caa("app.example.test")
    assert policy.found_at == "example.test"
    assert policy.issuers() == ["ca.example.test"] and policy.issuers(wildcard=True) == [""]
    assert policy.allows("ca.example.test") and not policy.allows("letsencrypt.org")
    own = Resolver(server, 2).caa("own.example.test")
    assert own.found_at == "own.example.test" and not own.allows("ca.example.test")


def test_a_literal_load_balancer_address_is_itself(server: str) -> None:
    assert Resolver(server, 2).addresses_of("203.0.113.10").addresses == ["203.0.113.10"]


def test_a_server_that_never_answers_is_an_error_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        started = time.monotonic()
        with pytest.raises(CheckError, match="did not answer A api.example.test within 1 s"):
            Resolver(f"127.0.0.1:{silent.getsockname()[1]}", 1).addresses("api.example.test")
    assert time.monotonic() - started < 3
