"""Verdicts of the Redis and PostgreSQL suites on the sandbox: the conformant install passes (or skips with
the reason), and each fault turns its one requirement to fail or warn.

A Redis fault and a PostgreSQL fault touch different servers, so one run carries one of each: seven runs
prove thirteen faults. The managed-service paths (ElastiCache, RDS) run against moto in
tests/verdict/test_data_cloud_verdicts.py.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import certifi
import pytest
import yaml

from readiness.core.expect import CheckError, parse_version
from readiness.probes.postgres import PostgresEndpoint, PostgresProbe
from readiness.probes.redis import RedisEndpoint, RedisProbe
from readiness.sandbox.base import port_is_open
from readiness.sandbox.services.common import ca_bundle, cert_paths
from tests.suite_run import ROOT, run_suites
from tests.verdict.moto_server import DUMMY_AWS, REGION, aws, moto_server

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: outcome of every data requirement on the conformant sandbox
CONFORMANT = {
    "REDIS-VERSION": "pass",
    "REDIS-MEMORY": "pass",
    "REDIS-CPU": "skip",  # self-hosted, no redis.workload: the reason says what to set
    "REDIS-AUTH": "pass",
    "REDIS-TLS": "pass",
    "REDIS-EVICTION": "pass",
    "REDIS-HEADROOM": "pass",
    "PG-VERSION-MIN": "pass",
    "PG-VERSION-TESTED": "pass",
    "PG-CAPACITY": "skip",  # self-hosted: capacity comes from a cloud API
    "PG-TLS": "pass",
    "PG-CONNECTIONS": "pass",
    "PG-SCHEMA": "pass",
    "PG-HEADROOM": "pass",
}


def assert_outcomes(verdicts, expected: dict[str, str]) -> None:
    wrong = {rid: verdicts.outcome(rid) for rid, outcome in expected.items() if verdicts.outcome(rid) != outcome}
    assert not wrong, "\n".join(verdicts.explain(rid) for rid in wrong)


def test_conformant_sandbox_passes_every_data_requirement(suites):
    verdicts = suites.run("redis", "postgres")
    assert_outcomes(verdicts, CONFORMANT)
    results = verdicts.results
    assert "redis.workload" in results["REDIS-CPU"]["message"]
    assert "cloud.postgres" in results["PG-CAPACITY"]["message"]
    # every Redis role is checked, and the evidence names it
    assert results["REDIS-VERSION"]["observed_value"] == "6.2.14"
    observations = results["REDIS-VERSION"]["checks"][0]["observations"]
    assert {o["evidence"]["role"] for o in observations} == {"cache", "messaging"}
    assert results["REDIS-TLS"]["evidence"]["tls_protocol"].startswith("TLSv1.")
    assert results["PG-VERSION-TESTED"]["observed_value"] == 15
    assert results["PG-CONNECTIONS"]["expected_value"] == 70
    schema = results["PG-SCHEMA"]["evidence"]
    assert schema["revision"] == schema["head"]
    assert verdicts.code == 0, verdicts.output[-3000:]


@pytest.mark.parametrize(
    ("redis_fault", "postgres_fault", "moved"),
    [
        ("redis-old", "pg-untested-major", {"REDIS-VERSION": "fail", "PG-VERSION-TESTED": "warn", "PG-TLS": "fail"}),
        ("redis-small", "pg-no-tls", {"REDIS-MEMORY": "warn", "PG-TLS": "fail"}),
        ("redis-noauth", "pg-few-connections", {"REDIS-AUTH": "fail", "PG-CONNECTIONS": "warn"}),
        ("redis-evicting", "pg-busy", {"REDIS-EVICTION": "warn", "PG-HEADROOM": "warn"}),
        ("redis-full", "pg-schema-behind", {"REDIS-HEADROOM": "warn", "REDIS-MEMORY": "warn", "PG-SCHEMA": "fail"}),
        ("redis-plaintext", None, {"REDIS-TLS": "warn"}),
    ],
)
def test_each_fault_moves_only_its_requirement(suites, redis_fault, postgres_fault, moved):
    """pg-untested-major also fails PG-TLS: the other real major available here (pgserver's 16) has no
    TLS. redis-full caps maxmemory just above the memory in use, which is what REDIS-MEMORY measures."""
    with ExitStack() as faults:
        for fault in (redis_fault, postgres_fault):
            if fault:
                faults.enter_context(suites.scenario(fault))
        verdicts = suites.run("redis", "postgres")
    assert_outcomes(verdicts, {**CONFORMANT, **moved})
    if redis_fault == "redis-old":  # versions parsed from a second real Redis and PostgreSQL major
        assert verdicts.results["REDIS-VERSION"]["observed_value"] == "6.0.9"
        assert verdicts.results["PG-VERSION-TESTED"]["observed_value"] == 16
    assert verdicts.code == (1 if "fail" in moved.values() else 0)  # warnings alone do not fail a run


# -- bad input and faults: an `error` with its cause, within the check's time -------------------------
@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port whose kernel completes the TCP handshake and then nothing ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _redis(sandbox, url: str | None = None, password: str | None = None, ca: str | None = None) -> RedisProbe:
    env = sandbox.env()
    endpoint = RedisEndpoint(
        role="messaging",
        url=url or env["READINESS_REDIS_TLS_URL"],
        username="default",
        password=password or Path(env["READINESS_REDIS_PASSWORD_FILE"]).read_text().strip(),
        ca_bundle=ca or env["READINESS_CA_BUNDLE"],
    )
    return RedisProbe(endpoint, timeout=PROBE_TIMEOUT)


def _postgres(sandbox, port: int | None = None, password: str | None = None, ca: str | None = None) -> PostgresProbe:
    env = sandbox.env()
    endpoint = PostgresEndpoint(
        host=env["READINESS_POSTGRES_HOST"],
        hostaddr="127.0.0.1",
        port=port or int(env["READINESS_POSTGRES_PORT"]),
        user=env["READINESS_POSTGRES_USER"],
        dbname=env["READINESS_POSTGRES_DATABASE"],
        password=password or Path(env["READINESS_POSTGRES_PASSWORD_FILE"]).read_text().strip(),
        sslmode="verify-full",
        sslrootcert=ca or env["READINESS_CA_BUNDLE"],
    )
    return PostgresProbe(endpoint, timeout=PROBE_TIMEOUT)


PROBE_TIMEOUT = 2.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("wrong password", "refused the configured credentials"),
        ("unreachable", "refused (nothing listening?)"),
        ("silent", "did not answer in time"),
        ("untrusted CA", "not trusted"),
    ],
)
def test_redis_bad_input_is_an_error_with_its_cause(sandbox, silent_port, case, cause):
    probe = {
        "wrong password": lambda: _redis(sandbox, password="not-the-password"),
        "unreachable": lambda: _redis(sandbox, url=f"rediss://127.0.0.1:{_closed_port()}/0"),
        "silent": lambda: _redis(sandbox, url=f"rediss://127.0.0.1:{silent_port}/0"),
        "untrusted CA": lambda: _redis(sandbox, ca=certifi.where()),
    }[case]()
    started = time.monotonic()
    with pytest.raises(CheckError, match=re.escape(cause)) as error:
        probe.info()
    assert time.monotonic() - started < 3 * PROBE_TIMEOUT
    assert probe.endpoint.password not in str(error.value)


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("wrong password", "refused the credentials of user prefect"),
        ("unreachable", "refused (nothing listening?)"),
        ("silent", "did not answer in time"),
        ("untrusted CA", "not trusted"),
    ],
)
def test_postgres_bad_input_is_an_error_with_its_cause(sandbox, silent_port, case, cause):
    probe = {
        "wrong password": lambda: _postgres(sandbox, password="not-the-password"),
        "unreachable": lambda: _postgres(sandbox, port=_closed_port()),
        "silent": lambda: _postgres(sandbox, port=silent_port),
        "untrusted CA": lambda: _postgres(sandbox, ca=certifi.where()),
    }[case]()
    started = time.monotonic()
    with pytest.raises(CheckError, match=re.escape(cause)) as error:
        probe.facts()
    assert time.monotonic() - started < 3 * PROBE_TIMEOUT
    assert probe.endpoint.password not in str(error.value)


def test_wrong_passwords_turn_the_checks_to_error_with_the_cause(sandbox, tmp_path):
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    targets = yaml.safe_load(sandbox.targets_path.read_text())
    targets["redis"]["password_file"] = targets["postgres"]["password_file"] = str(wrong)
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG"))}
    env.update({"READINESS_TARGETS": str(tmp_path / "targets.yaml"), "PREFECT_HOME": str(tmp_path / "home")})
    verdicts = run_suites(
        [ROOT / "suites" / "redis", ROOT / "suites" / "postgres"], env=env, report_dir=tmp_path / "reports"
    )
    assert verdicts.outcome("REDIS-VERSION") == "error"
    assert "refused the configured credentials" in verdicts.results["REDIS-VERSION"]["message"]
    assert verdicts.outcome("PG-VERSION-MIN") == "error"
    assert "refused the credentials of user prefect" in verdicts.results["PG-VERSION-MIN"]["message"]
    assert verdicts.code == 1


# -- a second real Redis: Debian's 7.0, with native TLS and ACL users ----------------------------------
DEBIAN_REDIS = Path("/usr/bin/redis-server")


@pytest.fixture
def redis7(sandbox, tmp_path) -> Iterator[Callable[..., RedisProbe]]:
    """Starts Debian's Redis 7 with TLS from the sandbox CA; yields a factory of probes against it."""
    if not DEBIAN_REDIS.exists():
        pytest.skip("Debian redis-server missing (tools/bootstrap.sh installs it)")
    _, chain, key = cert_paths(sandbox.ctx, "services")
    ca = str(ca_bundle(sandbox.ctx))
    started: list[subprocess.Popen[bytes]] = []

    def start(*acl: str) -> RedisProbe:
        port = _closed_port()
        argv = [str(DEBIAN_REDIS), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(chain), "--tls-key-file", str(key), "--tls-auth-clients", "no",
                "--save", "", "--appendonly", "no", "--dir", str(tmp_path), *acl]  # fmt: skip
        started.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 10
        while not port_is_open(port):
            assert time.monotonic() < deadline, "Debian redis-server did not start"
            time.sleep(0.1)
        endpoint = RedisEndpoint("messaging", f"rediss://127.0.0.1:{port}/0", "prefect", "s3cret-7", ca)
        return RedisProbe(endpoint, timeout=PROBE_TIMEOUT)

    try:
        yield start
    finally:
        for proc in started:
            proc.terminate()
            proc.wait(timeout=10)


def test_redis_7_version_tls_and_acl_users(redis7):
    # an ACL user for Prefect, the default user switched off: both refusals hold
    probe = redis7("--user", "prefect", "on", ">s3cret-7", "~*", "&*", "+@all", "--user", "default", "off")
    info = probe.info()
    assert info.version.startswith("7.0.")
    assert parse_version(info.version) >= parse_version("6.2")
    assert probe.tls(None).protocol in ("TLSv1.2", "TLSv1.3")
    auth = probe.auth()
    assert auth.anonymous_refused
    assert auth.default_user_refused is True


def test_redis_7_default_user_sharing_the_password_is_caught(redis7):
    # requirepass gives the default user the same password as the ACL user: anonymous is refused,
    # but `default` gets in with Prefect's password
    probe = redis7("--user", "prefect", "on", ">s3cret-7", "~*", "&*", "+@all", "--requirepass", "s3cret-7")
    auth = probe.auth()
    assert auth.anonymous_refused
    assert auth.default_user_refused is False


# -- PG-HEADROOM with the cloud's metrics: a peak earlier in the window counts ------------------------
def test_a_connection_peak_in_cloudwatch_warns_headroom(sandbox, tmp_path):
    """The sandbox's PostgreSQL stands for an RDS instance whose CloudWatch DatabaseConnections (moto) peaked
    at 92 of 100 connections 10 minutes ago, while few are in use now."""
    with moto_server(tmp_path / "moto.log") as url:
        aws("cloudwatch", url).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "DatabaseConnections",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "prefect-db"}],
                    "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes),
                    "Value": value,
                    "Unit": "Count",
                }  # fmt: skip
                for minutes, value in ((30, 12.0), (10, 92.0), (2, 14.0))
            ],
        )
        targets = yaml.safe_load(sandbox.targets_path.read_text())
        targets["cloud"] = {"provider": "aws", "region": REGION, "endpoint_url": url, "postgres": "prefect-db"}
        (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets))
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG", "AWS_"))
        }
        env.update({**DUMMY_AWS, "READINESS_TARGETS": str(tmp_path / "targets.yaml"), "PREFECT_HOME": str(tmp_path)})
        verdicts = run_suites([ROOT / "suites" / "postgres"], env=env, report_dir=tmp_path / "reports",
                              extra=("-k", "headroom"))  # fmt: skip
    headroom = verdicts.results["PG-HEADROOM"]
    assert headroom["outcome"] == "warn", verdicts.explain("PG-HEADROOM")
    assert headroom["observed_value"] == 0.92
    assert headroom["evidence"]["cloud_metric"]["peak"] == 92
    assert (
        headroom["evidence"]["cloud_metric"]["window"]["start"] < headroom["evidence"]["cloud_metric"]["window"]["end"]
    )
