"""The PostgreSQL probe (psycopg 3): server facts, TLS behaviour and the Prefect schema revision.

Every session is read-only (`default_transaction_read_only`) with a statement timeout. TLS is probed by
behaviour: a verify-full connection, and a plaintext one that must be refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from readiness.core.expect import CheckError, now_iso
from readiness.probes.catalog import ManagedInstance, ManagedSize, Size
from readiness.probes.errors import describe_connection_failure


@dataclass(frozen=True)
class PostgresEndpoint:
    """Where the Prefect database lives, in libpq's terms. The password never leaves this object."""

    host: str
    port: int = 5432
    user: str | None = None
    dbname: str | None = None
    password: str | None = field(default=None, repr=False)
    hostaddr: str | None = None
    sslmode: str = "verify-full"
    sslrootcert: str | None = None

    @property
    def where(self) -> str:
        address = f" ({self.hostaddr})" if self.hostaddr and self.hostaddr != self.host else ""
        return f"{self.host}:{self.port}{address}/{self.dbname or ''}"


@dataclass(frozen=True)
class ServerFacts:
    version: str
    version_num: int
    max_connections: int
    superuser_reserved_connections: int
    #: client backends connected right now, this probe's own included
    connections_in_use: int
    ssl_in_use: bool
    user: str
    superuser: bool
    evidence: dict[str, Any]

    @property
    def major(self) -> int:
        return self.version_num // 10000

    @property
    def connections_used_ratio(self) -> float:
        return round(self.connections_in_use / self.max_connections, 4) if self.max_connections else 1.0


@dataclass(frozen=True)
class TlsBehaviour:
    #: a verify-full connection succeeded and pg_stat_ssl shows TLS for it
    verified: bool
    protocol: str | None
    verify_answer: str
    plaintext_refused: bool
    plaintext_answer: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class SchemaRevision:
    #: the alembic_version row; None when the table is missing (never migrated)
    revision: str | None
    evidence: dict[str, Any]


_FACTS_SQL = """
SELECT current_setting('server_version'),
       current_setting('server_version_num')::int,
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       (SELECT count(*) FROM pg_stat_activity
         -- other roles' sessions show no backend_type to a non-superuser; a session has a user, background
         -- processes have none
         WHERE usesysid IS NOT NULL AND coalesce(backend_type, 'client backend') = 'client backend'),
       coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
       current_user,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
"""


def _describe(exc: Exception, endpoint: PostgresEndpoint, sslmode: str) -> str:
    text = " ".join(str(exc).split())
    where = endpoint.where
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f"PostgreSQL at {where} refused the credentials of user {endpoint.user}: "
            "check postgres.user and postgres.password"
        )
    if "server does not support SSL" in text:
        return f"PostgreSQL at {where} does not offer TLS, but sslmode={sslmode} requires it"
    line = describe_connection_failure(
        exc, f"PostgreSQL at {where}", trust_hint="check postgres.sslrootcert", host_hint="set postgres.host"
    )
    if line is not None:
        return line
    if "does not exist" in text:
        return f"PostgreSQL at {where}: {text}: check postgres.dbname and postgres.user"
    return f"PostgreSQL at {where} (sslmode={sslmode}): {text}"


class PostgresProbe:
    """Read-only sessions against one :class:`PostgresEndpoint`, each call bounded by `timeout`."""

    def __init__(self, endpoint: PostgresEndpoint, timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def _connect(self, sslmode: str | None = None) -> psycopg.Connection:
        e = self.endpoint
        mode = sslmode or e.sslmode
        params: dict[str, Any] = {
            "host": e.host,
            "port": e.port,
            "user": e.user,
            "dbname": e.dbname,
            "password": e.password,
            "sslmode": mode,
            # libpq's minimum is 2 s
            "connect_timeout": max(2, int(self.timeout)),
            "application_name": "prefect-readiness",
            "options": f"-c statement_timeout={int(self.timeout * 1000)} -c default_transaction_read_only=on",
            "autocommit": True,
        }
        if e.hostaddr:
            params["hostaddr"] = e.hostaddr
        if e.sslrootcert and mode in ("verify-ca", "verify-full"):
            params["sslrootcert"] = e.sslrootcert
        elif mode in ("verify-ca", "verify-full"):
            params["sslrootcert"] = "system"
        return psycopg.connect(**{k: v for k, v in params.items() if v is not None})

    @contextmanager
    def session(self, sslmode: str | None = None) -> Iterator[psycopg.Connection]:
        mode = sslmode or self.endpoint.sslmode
        try:
            with self._connect(mode) as conn:
                yield conn
        except psycopg.Error as exc:
            raise CheckError(_describe(exc, self.endpoint, mode)) from None

    def _asked(self, what: str, sslmode: str | None = None) -> dict[str, Any]:
        return {
            "postgres": self.endpoint.where,
            "user": self.endpoint.user,
            "sslmode": sslmode or self.endpoint.sslmode,
            "asked": what,
            "at": now_iso(),
        }

    def facts(self) -> ServerFacts:
        with self.session() as conn:
            row = conn.execute(_FACTS_SQL).fetchone()
        assert row is not None
        version, num, max_conn, reserved, in_use, ssl_in_use, user, superuser = row
        return ServerFacts(
            version=str(version),
            version_num=int(num),
            max_connections=int(max_conn),
            superuser_reserved_connections=int(reserved),
            connections_in_use=int(in_use),
            ssl_in_use=bool(ssl_in_use),
            user=str(user),
            superuser=bool(superuser),
            evidence={
                **self._asked("server_version_num, max_connections, client backends in pg_stat_activity"),
                "server_version": version,
                "server_version_num": num,
                "max_connections": max_conn,
                "superuser_reserved_connections": reserved,
                "client_backends": in_use,
                "ssl": bool(ssl_in_use),
                "superuser": bool(superuser),
            },
        )

    def tls(self) -> TlsBehaviour:
        """A verify-full session (TLS in use per pg_stat_ssl), and a plaintext one that must be refused."""
        verified, protocol = False, None
        try:
            with self._connect("verify-full") as conn:
                row = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
            verified = bool(row and row[0])
            protocol = row[1] if row else None
            verify_answer = f"connected, TLS {protocol}" if verified else "connected without TLS"
        except psycopg.OperationalError as exc:
            text = " ".join(str(exc).split())
            if "server does not support SSL" not in text:
                raise CheckError(_describe(exc, self.endpoint, "verify-full")) from None
            verify_answer = "the server does not offer TLS"
        try:
            with self._connect("disable"):
                pass
            plaintext_refused, plaintext_answer = False, "a plaintext session was accepted"
        except psycopg.OperationalError as exc:
            text = " ".join(str(exc).split())
            if "timeout expired" in text or "Connection refused" in text:
                raise CheckError(_describe(exc, self.endpoint, "disable")) from None
            plaintext_refused, plaintext_answer = True, text.rsplit("FATAL:", 1)[-1].strip()[:200]
        return TlsBehaviour(
            verified=verified,
            protocol=protocol,
            verify_answer=verify_answer,
            plaintext_refused=plaintext_refused,
            plaintext_answer=plaintext_answer,
            evidence={
                **self._asked(
                    "a verify-full session (pg_stat_ssl), then a session with sslmode=disable", "verify-full"
                ),
                "sslrootcert": self.endpoint.sslrootcert or "system trust store",
                "verify_full": verify_answer,
                "plaintext": plaintext_answer,
            },
        )

    def schema_revision(self) -> SchemaRevision:
        with self.session() as conn:
            exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
            revision = None
            if exists and exists[0]:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = str(row[0]) if row else None
        return SchemaRevision(
            revision=revision,
            evidence={**self._asked("SELECT version_num FROM alembic_version"), "revision": revision},
        )

    def with_endpoint(self, **changes: Any) -> PostgresProbe:
        return PostgresProbe(replace(self.endpoint, **changes), self.timeout)


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]?([0-9a-zA-Z_]+|None)['\"]?", re.M)


@dataclass(frozen=True)
class MigrationHead:
    prefect_version: str
    revision: str
    source: str
    #: revision -> the revision before it, for every migration of the release
    down: dict[str, str | None]

    def previous(self, revision: str) -> str | None:
        """The revision before `revision` in this release's migrations (None at the root)."""
        return self.down.get(revision)


def migration_graph(versions: Path) -> dict[str, str | None]:
    """revision -> down_revision of the alembic migration files in `versions`, read as text.

    Reading beats loading them with alembic here: loading imports each of Prefect's ~200 migrations.
    """
    graph: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        found = dict((key, value) for key, value in _REVISION.findall(path.read_text()))
        if "revision" in found:
            down = found.get("down_revision")
            graph[found["revision"]] = None if down in (None, "None") else down
    return graph


def local_migration_head() -> MigrationHead | None:
    """The PostgreSQL migration head of the Prefect package installed here (None without Prefect).

    Found without importing Prefect (slow, with side effects).
    """
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version

    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        installed = version("prefect")
    except PackageNotFoundError:
        return None
    versions = Path(list(spec.submodule_search_locations)[0]) / "server" / "database" / "_migrations" / "versions"
    graph = migration_graph(versions / "postgresql")
    heads = set(graph) - {down for down in graph.values() if down}
    if len(heads) != 1:
        return None
    return MigrationHead(installed, heads.pop(), f"migrations of the installed prefect {installed}", graph)


# -- managed PostgreSQL: size from the cloud's API -------------------------------------------------
def rds_instance(
    identifier: str, *, region: str | None, endpoint_url: str | None = None, timeout: float = 10.0
) -> ManagedInstance:
    """The RDS DB instance `identifier` (class, engine version)."""
    from readiness.probes.aws import aws_client, translated_aws

    client = aws_client("rds", region=region, endpoint_url=endpoint_url, timeout=timeout)
    with translated_aws(f"RDS instance {identifier}"):
        instance = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    instance_class = instance.get("DBInstanceClass")
    if not instance_class:
        raise CheckError(f"RDS instance {identifier} reports no instance class")
    return ManagedInstance(
        cloud="aws",
        service="RDS",
        resource=identifier,
        type_kind="instance class",
        type_name=str(instance_class),
        engine_version=instance.get("EngineVersion"),
        evidence={
            "cloud": "aws",
            "service": "RDS",
            "resource": identifier,
            "region": client.meta.region_name,
            "asked": "DescribeDBInstances",
            "instance_class": instance_class,
            "engine": instance.get("Engine"),
            "engine_version": instance.get("EngineVersion"),
            "at": now_iso(),
        },
    )


def cloudsql_instance(
    instance: str, *, project: str, endpoint_url: str | None = None, timeout: float = 10.0
) -> ManagedSize:
    """A Cloud SQL instance, sized by Cloud Monitoring's reserved-cores and memory-quota gauges."""
    from readiness.probes.gcp import latest_gauge

    database_id = instance if ":" in instance else f"{project}:{instance}"
    resource = {"type": "cloudsql_database", "database_id": database_id}
    cores = latest_gauge(project, "cloudsql.googleapis.com/database/cpu/reserved_cores", resource,
                         endpoint_url=endpoint_url, timeout=timeout)  # fmt: skip
    memory = latest_gauge(project, "cloudsql.googleapis.com/database/memory/quota", resource,
                          endpoint_url=endpoint_url, timeout=timeout)  # fmt: skip
    return ManagedSize(
        service="Cloud SQL",
        resource=database_id,
        described=f"instance {database_id} (cpu/reserved_cores, memory/quota)",
        size=Size(vcpu=cores.value, memory_gib=round(memory.value / 1024**3, 2)),
        evidence={
            "cloud": "gcp",
            "resource": database_id,
            "reserved_cores": cores.evidence,
            "memory_quota": memory.evidence,
            "window": cores.evidence["window"],
            "at": now_iso(),
        },
    )


def flexible_server(
    name: str, *, subscription: str, resource_group: str, endpoint_url: str | None = None, timeout: float = 10.0
) -> ManagedInstance:
    """An Azure Database for PostgreSQL flexible server: its SKU name (e.g. Standard_E4ds_v5)."""
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

    from readiness.probes.azure import arm_client, translated_azure

    client, options = arm_client(PostgreSQLManagementClient, subscription, endpoint_url=endpoint_url, timeout=timeout)
    with translated_azure(f"PostgreSQL flexible server {name}"):
        server = client.servers.get(resource_group, name, **options)
    return ManagedInstance(
        cloud="azure",
        service="PostgreSQL flexible server",
        resource=name,
        type_kind="instance class",
        type_name=str(server.sku.name),
        engine_version=str(server.version) if server.version else None,
        evidence={
            "cloud": "azure",
            "service": "PostgreSQL flexible server",
            "resource": server.id or name,
            "asked": "Servers - Get (Microsoft.DBforPostgreSQL/flexibleServers)",
            "sku": server.sku.name,
            "tier": getattr(server.sku.tier, "value", server.sku.tier),
            "version": server.version,
            "at": now_iso(),
        },
    )


@dataclass(frozen=True)
class CloudConnections:
    """The peak of the cloud's connection-count metric over a window."""

    peak: int
    datapoints: int
    evidence: dict[str, Any]


def rds_connections(
    identifier: str,
    *,
    region: str | None,
    endpoint_url: str | None = None,
    timeout: float = 10.0,
    window_minutes: int = 60,
) -> CloudConnections | None:
    """CloudWatch AWS/RDS DatabaseConnections (Maximum per minute) over the window; None without datapoints."""
    import datetime as dt

    from readiness.probes.aws import aws_client, translated_aws

    client = aws_client("cloudwatch", region=region, endpoint_url=endpoint_url, timeout=timeout)
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(minutes=window_minutes)
    with translated_aws(f"CloudWatch DatabaseConnections of {identifier}"):
        answer = client.get_metric_statistics(
            Namespace="AWS/RDS",
            MetricName="DatabaseConnections",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
            StartTime=start,
            EndTime=end,
            Period=60,
            Statistics=["Maximum"],
        )
    points = answer.get("Datapoints") or []
    if not points:
        return None
    peak = int(max(p["Maximum"] for p in points))
    return CloudConnections(
        peak=peak,
        datapoints=len(points),
        evidence={
            "cloud": "aws",
            "service": "CloudWatch",
            "asked": f"GetMetricStatistics AWS/RDS DatabaseConnections Maximum, DBInstanceIdentifier={identifier}",
            "window": {"start": start.isoformat(timespec="seconds"), "end": end.isoformat(timespec="seconds")},
            "datapoints": len(points),
            "peak": peak,
            "at": now_iso(),
        },
    )
