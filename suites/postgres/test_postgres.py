"""PostgreSQL: version, capacity, TLS, connections and the Prefect schema of Prefect's database."""

from __future__ import annotations

import pytest

from readiness.core.humanize import percent
from readiness.probes.postgres import local_migration_head


@pytest.mark.requirement("PG-VERSION-MIN")
def test_postgres_is_recent_enough(postgres, expect, params):
    facts = postgres.facts()
    expect.at_least("PostgreSQL major (server_version_num)", facts.major, params["min_major"], evidence=facts.evidence)


@pytest.mark.requirement("PG-VERSION-TESTED")
def test_postgres_is_the_tested_major(postgres, expect, params):
    facts = postgres.facts()
    expect.equal("PostgreSQL major (server_version_num)", facts.major, params["major"], evidence=facts.evidence)


@pytest.mark.requirement("PG-CAPACITY")
def test_postgres_has_the_suggested_capacity(managed_postgres, expect, params):
    if managed_postgres is None:
        pytest.skip(
            "the capacity of a self-hosted PostgreSQL is not visible through SQL: set cloud.provider and "
            "cloud.postgres (e.g. the RDS instance identifier) to read it from the cloud"
        )
    label = f"{managed_postgres.service} {managed_postgres.described}"
    expect.at_least(f"vCPUs of {label}", managed_postgres.size.vcpu, params["min_vcpu"], unit="vCPU",
                    evidence=managed_postgres.evidence)  # fmt: skip
    expect.at_least(f"memory of {label}", managed_postgres.size.memory_gib, params["min_memory_gib"], unit="GiB",
                    evidence=managed_postgres.evidence)  # fmt: skip


@pytest.mark.requirement("PG-TLS")
def test_postgres_requires_verified_tls(postgres, expect, params):
    tls = postgres.tls()
    expect.true(
        "a verify-full session uses TLS (pg_stat_ssl)",
        tls.verified,
        observed=tls.verify_answer,
        expected="TLS with a verified certificate",
        evidence=tls.evidence,
    )
    if params.get("refuse_plaintext", True):
        expect.true(
            "a plaintext session (sslmode=disable) is refused",
            tls.plaintext_refused,
            observed=tls.plaintext_answer,
            expected="refused",
            evidence=tls.evidence,
        )


@pytest.mark.requirement("PG-CONNECTIONS")
def test_postgres_allows_prefects_connection_pools(postgres, expect, params):
    facts = postgres.facts()
    processes = params["server_replicas"] + params["service_processes"]
    budget = (params["pool_size"] + params["max_overflow"]) * processes + params["reserve"]
    expect.at_least(
        f"max_connections (Prefect's budget: ({params['pool_size']} pool + {params['max_overflow']} overflow) x "
        f"{processes} processes + {params['reserve']} reserve)",
        facts.max_connections,
        budget,
        unit="connections",
        evidence=facts.evidence,
        expected_text=f"max_connections at least {budget} connections: ({params['pool_size']} pool + "
        f"{params['max_overflow']} overflow) × {processes} Prefect processes + {params['reserve']} reserved",
    )


@pytest.mark.requirement("PG-HEADROOM")
def test_postgres_has_connection_headroom(postgres, cloud_connections, expect, params):
    facts = postgres.facts()
    in_use, evidence, when = facts.connections_in_use, facts.evidence, "now"
    if cloud_connections is not None and cloud_connections.peak > in_use:
        in_use, when = cloud_connections.peak, "peak of the cloud metric's window"
        evidence = {**facts.evidence, "cloud_metric": cloud_connections.evidence}
    expect.at_most(
        f"connections in use ({when}) / max_connections ({in_use}/{facts.max_connections})",
        round(in_use / facts.max_connections, 4),
        params["max_used_ratio"],
        unit="ratio",
        evidence=evidence,
        observed_text=f"{in_use} of {facts.max_connections} connections in use ({when}): "
        f"{percent(in_use / facts.max_connections)} of max_connections",
    )


@pytest.mark.requirement("PG-SCHEMA")
def test_prefect_schema_is_at_the_migration_head(postgres, prefect_server_version, expect, params):
    head = local_migration_head()
    known = dict(params.get("migration_heads") or {})
    if prefect_server_version and (head is None or head.prefect_version != prefect_server_version):
        if prefect_server_version not in known:
            pytest.skip(
                f"no migration head known for Prefect {prefect_server_version}: run the suite with "
                f"prefect=={prefect_server_version} installed, or add it to PG-SCHEMA params.migration_heads"
            )
        expected, source = known[prefect_server_version], "PG-SCHEMA params.migration_heads"
    elif head is not None:
        expected, source = head.revision, head.source
    else:
        pytest.skip("the Prefect server version is unknown (prefect.api_url) and no prefect package is installed here")
    schema = postgres.schema_revision()
    expect.equal(
        f"alembic_version of the Prefect database (head of Prefect {prefect_server_version or head.prefect_version})",
        schema.revision,
        expected,
        evidence={**schema.evidence, "head": expected, "head_from": source, "prefect_server": prefect_server_version},
    )
