"""Fixtures of the PostgreSQL suite: the probe of Prefect's database and its size from the cloud."""

from __future__ import annotations

import pytest

from readiness.probes.catalog import ManagedSize, managed_size
from readiness.probes.postgres import (
    CloudConnections,
    PostgresEndpoint,
    PostgresProbe,
    cloudsql_instance,
    flexible_server,
    rds_connections,
    rds_instance,
)
from readiness.targets import Targets


@pytest.fixture
def postgres(targets: Targets, probe_timeout: float) -> PostgresProbe:
    return PostgresProbe(
        PostgresEndpoint(
            host=targets.require("postgres.host"),
            hostaddr=targets.get("postgres.hostaddr"),
            port=int(targets.get("postgres.port") or 5432),
            user=targets.get("postgres.user"),
            dbname=targets.get("postgres.dbname"),
            password=targets.get("postgres.password"),
            sslmode=targets.get("postgres.sslmode") or "verify-full",
            sslrootcert=targets.get("postgres.sslrootcert") or targets.ca_bundle("postgres"),
        ),
        timeout=probe_timeout,
    )


@pytest.fixture
def managed_postgres(targets: Targets, profile, probe_timeout: float) -> ManagedSize | None:
    """The managed PostgreSQL named by cloud.provider and cloud.postgres with its size (RDS and Flexible
    Server: instance class through the profile's catalog; Cloud SQL: its reserved-cores and memory-quota
    metrics); None for a self-hosted one."""
    return managed_size(
        targets, profile.catalog, probe_timeout, key="cloud.postgres", what="PostgreSQL",
        table="postgres_instance_classes",
        readers={
            "aws": lambda c: rds_instance(c.resource, region=c.region, endpoint_url=c.endpoint_url, timeout=c.timeout),
            "gcp": lambda c: cloudsql_instance(c.resource, project=c.require("cloud.project"),
                                               endpoint_url=c.endpoint_url, timeout=c.timeout),
            "azure": lambda c: flexible_server(c.resource, subscription=c.require("cloud.subscription"),
                                               resource_group=c.require("cloud.resource_group"),
                                               endpoint_url=c.endpoint_url, timeout=c.timeout),
        },
    )  # fmt: skip


@pytest.fixture
def cloud_connections(targets: Targets, probe_timeout: float) -> CloudConnections | None:
    """The peak connection count of the managed PostgreSQL from the cloud's metrics (AWS CloudWatch);
    None for a self-hosted one or where no metric answered."""
    if targets.get("cloud.provider") != "aws" or not targets.get("cloud.postgres"):
        return None
    return rds_connections(
        targets.get("cloud.postgres"),
        region=targets.get("cloud.region"),
        endpoint_url=targets.get("cloud.endpoint_url"),
        timeout=probe_timeout,
    )


@pytest.fixture
def prefect_server_version(targets: Targets, probe_timeout: float) -> str | None:
    """The Prefect server's version from its API, None when no Prefect API is configured or it is down."""
    from readiness.core.expect import CheckError
    from readiness.probes.http import tls_verify
    from readiness.probes.prefect import PrefectAPI
    from readiness.targets import prefect_target

    target = prefect_target(targets=targets)
    if not target.configured:
        return None
    try:
        api = PrefectAPI(target, timeout=probe_timeout, verify=tls_verify(targets.ca_bundle()))
    except CheckError:
        return None
    try:
        return api.versions().server
    except CheckError:
        return None
    finally:
        api.close()
