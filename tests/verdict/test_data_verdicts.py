"""Verdicts of the Redis and PostgreSQL suites on the sandbox: the conformant install passes (or skips with
the reason), and each fault turns its one requirement to fail or warn.

A Redis fault and a PostgreSQL fault touch different servers, so one run carries one of each: seven runs
prove thirteen faults. The managed-service paths (ElastiCache, RDS) run against moto in
tests/verdict/test_data_cloud_verdicts.py.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest

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
    assert results["REDIS-VERSION"]["observed"] == "6.2.14"
    observations = results["REDIS-VERSION"]["checks"][0]["observations"]
    assert {o["evidence"]["role"] for o in observations} == {"cache", "messaging"}
    assert results["REDIS-TLS"]["evidence"]["tls_protocol"].startswith("TLSv1.")
    assert results["PG-VERSION-TESTED"]["observed"] == 15
    assert results["PG-CONNECTIONS"]["expected"] == 70
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
    assert verdicts.code == (1 if "fail" in moved.values() else 0)  # warnings alone do not fail a run
