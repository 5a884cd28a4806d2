"""Redis: version, size, eviction, headroom, authentication and TLS of every Redis role Prefect uses."""

from __future__ import annotations

import pytest

from readiness.core.humanize import number

GIB = 1024**3


@pytest.mark.requirement("REDIS-VERSION")
def test_redis_is_recent_enough(redis_probes, expect, params):
    for probe in redis_probes:
        info = probe.info()
        expect.version_at_least(
            f"{probe.endpoint.role} Redis version (INFO server)", info.version, params["min"], evidence=info.evidence
        )


@pytest.mark.requirement("REDIS-MEMORY")
def test_redis_has_the_recommended_memory(request, managed_redis, expect, params):
    if managed_redis is not None:
        expect.at_least(
            f"memory of {managed_redis.service} {managed_redis.described}",
            managed_redis.size.memory_gib,
            params["min_gib"],
            unit="GiB",
            evidence=managed_redis.evidence,
        )
        return
    for probe in request.getfixturevalue("redis_probes"):
        info = probe.info()
        limit = info.memory_limit_bytes
        label = f"{probe.endpoint.role} Redis memory ({info.memory_limit_source})"
        expect.at_least(
            label,
            round(limit / GIB, 2) if limit else None,
            params["min_gib"],
            unit="GiB",
            evidence=info.evidence,
            # Under a GiB the GiB figure rounds to 0: say it in MiB too.
            observed_text=f"{label}: {number(limit / GIB, digits=2)} GiB ({number(limit / 1024**2)} MiB)"
            if limit and limit < GIB
            else None,
        )


@pytest.mark.requirement("REDIS-CPU")
def test_redis_has_the_recommended_vcpus(managed_redis, targets, expect, params):
    if managed_redis is None:
        pytest.skip(
            "the vCPUs of a self-hosted Redis are not visible to a client: set cloud.provider and cloud.redis "
            "for a managed Redis, or redis.workload (namespace/kind/name) for one running in the cluster"
            if not targets.get("redis.workload")
            else "reading the CPU of redis.workload is not implemented yet"
        )
    if managed_redis.size.vcpu is None:
        pytest.skip(f"{managed_redis.service} does not publish the vCPUs of {managed_redis.resource}")
    expect.at_least(
        f"vCPUs of {managed_redis.service} {managed_redis.described}",
        managed_redis.size.vcpu,
        params["min_vcpu"],
        unit="vCPU",
        evidence=managed_redis.evidence,
    )


@pytest.mark.requirement("REDIS-EVICTION")
def test_redis_does_not_evict_prefect_data(redis_probes, expect, params):
    for probe in redis_probes:
        info = probe.info()
        expect.one_of(
            f"{probe.endpoint.role} Redis maxmemory-policy",
            info.eviction_policy,
            params["allowed"],
            evidence=info.evidence,
        )


@pytest.mark.requirement("REDIS-HEADROOM")
def test_redis_has_memory_headroom(redis_probes, expect, params):
    for probe in redis_probes:
        info = probe.info()
        expect.at_most(
            f"{probe.endpoint.role} Redis used memory / {info.memory_limit_source}",
            info.used_ratio,
            params["max_used_ratio"],
            unit="ratio",
            evidence=info.evidence,
        )


@pytest.mark.requirement("REDIS-AUTH")
def test_redis_refuses_clients_without_credentials(redis_probes, expect):
    for probe in redis_probes:
        auth = probe.auth()
        expect.true(
            f"{probe.endpoint.role} Redis refuses a connection without credentials",
            auth.anonymous_refused,
            observed=auth.anonymous_answer,
            expected="NOAUTH (refused)",
            evidence=auth.evidence,
        )
        if auth.default_user_refused is not None:
            expect.true(
                f"{probe.endpoint.role} Redis refuses the `default` user when an ACL user is configured",
                auth.default_user_refused,
                observed=auth.default_user_answer,
                expected="WRONGPASS (refused)",
                evidence=auth.evidence,
            )


@pytest.mark.requirement("REDIS-TLS")
def test_redis_speaks_verified_tls_only(redis_probes, redis_plaintext_url, expect):
    for probe in redis_probes:
        tls = probe.tls(redis_plaintext_url(probe.endpoint))
        expect.true(
            f"{probe.endpoint.role} Redis is reached over verified TLS (rediss://)",
            tls.tls,
            observed=probe.endpoint.where if not tls.tls else f"{tls.protocol}, certificate verified",
            expected="rediss:// with a verified certificate",
            evidence=tls.evidence,
        )
        if tls.plaintext_open is not None:
            expect.true(
                f"{probe.endpoint.role} Redis has no plaintext port open beside TLS ({tls.plaintext_url})",
                not tls.plaintext_open,
                observed=f"plaintext answered: {tls.plaintext_answer}" if tls.plaintext_open else "closed",
                expected="closed",
                evidence=tls.evidence,
            )
