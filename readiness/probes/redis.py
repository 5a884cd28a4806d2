"""The Redis probe (redis-py): server facts from INFO, and how the server behaves towards clients.

Only commands managed services allow are used (INFO, PING, AUTH): ElastiCache, Memorystore and Azure
Cache disable CONFIG. Authentication and TLS are probed by behaviour (a connection without credentials,
a verified TLS handshake, a plaintext connection attempt), never read from configuration.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from readiness.core.expect import CheckError, now_iso
from readiness.probes.catalog import ManagedInstance, ManagedSize, Size
from readiness.probes.errors import describe_connection_failure


@dataclass(frozen=True)
class RedisEndpoint:
    """One Redis the install uses, by role (messaging, cache). The password never leaves this object."""

    role: str
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "rediss"

    @property
    def where(self) -> str:
        """scheme://host:port/db without any credentials in the URL, for evidence and messages."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class RedisInfo:
    """What INFO says about the server."""

    version: str
    maxmemory_bytes: int
    used_memory_bytes: int
    system_memory_bytes: int | None
    eviction_policy: str
    evidence: dict[str, Any]

    @property
    def memory_limit_bytes(self) -> int | None:
        """maxmemory, or the machine's memory where maxmemory is 0 (unlimited)."""
        return self.maxmemory_bytes or self.system_memory_bytes

    @property
    def memory_limit_source(self) -> str:
        return "maxmemory" if self.maxmemory_bytes else "total_system_memory (maxmemory is 0)"

    @property
    def used_ratio(self) -> float | None:
        limit = self.memory_limit_bytes
        return round(self.used_memory_bytes / limit, 4) if limit else None


@dataclass(frozen=True)
class AuthBehaviour:
    """How the server answered clients that should be turned away."""

    anonymous_refused: bool
    anonymous_answer: str
    #: None when the configured user is `default` itself (nothing more to try)
    default_user_refused: bool | None
    default_user_answer: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class TlsBehaviour:
    tls: bool
    #: the TLS protocol of a verified handshake, None without TLS
    protocol: str | None
    plaintext_url: str | None
    #: None when there is no plaintext address to try
    plaintext_open: bool | None
    plaintext_answer: str | None
    evidence: dict[str, Any]


def _describe(exc: Exception, where: str) -> str:
    """One line saying why `where` could not be used."""
    text = str(exc)
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return (
            f"Redis at {where} refused the configured credentials ({text.split(',')[0]}): "
            "check redis.username and redis.password"
        )
    line = describe_connection_failure(
        exc, f"Redis at {where}", trust_hint="check redis.ca_bundle", host_hint="set redis.urls"
    )
    if line is not None:
        return line
    return f"Redis at {where}: {type(exc).__name__}: {text}"


class RedisProbe:
    """Talks to one :class:`RedisEndpoint` with a bounded timeout per network call."""

    def __init__(self, endpoint: RedisEndpoint, timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def _client(self, url: str | None = None, *, credentials: bool = True, username: str | None = None) -> redis.Redis:
        url = url or self.endpoint.url
        kwargs: dict[str, Any] = {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            # an answer (a refusal included) is the observation: never retry it away
            "retry": Retry(NoBackoff(), 0),
            "retry_on_timeout": False,
            # connects in the constructor: create clients inside the translation of errors
            "single_connection_client": True,
            # RESP2 (AUTH, not HELLO): the same handshake on every Redis version and managed service
            "protocol": 2,
        }
        if credentials:
            kwargs["username"] = username if username is not None else self.endpoint.username
            kwargs["password"] = self.endpoint.password
        if urlsplit(url).scheme == "rediss":
            kwargs.update(
                ssl_cert_reqs="required",
                ssl_ca_certs=self.endpoint.ca_bundle,
                ssl_check_hostname=True,
            )
        return redis.Redis.from_url(url, **kwargs)

    @contextmanager
    def _translated(self, where: str) -> Iterator[None]:
        try:
            yield
        except (redis.RedisError, OSError) as exc:
            raise CheckError(_describe(exc, where)) from None

    def _asked(self, what: str) -> dict[str, Any]:
        return {"role": self.endpoint.role, "redis": self.endpoint.where, "asked": what, "at": now_iso()}

    # -- facts ---------------------------------------------------------------------------------------
    def info(self) -> RedisInfo:
        with self._translated(self.endpoint.where), self._client() as client:
            server = client.info("server")
            memory = client.info("memory")
        maxmemory = int(memory.get("maxmemory", 0))
        system = int(memory.get("total_system_memory", 0)) or None
        facts = {
            "redis_version": server.get("redis_version"),
            "maxmemory": maxmemory,
            "maxmemory_human": memory.get("maxmemory_human"),
            "used_memory": int(memory.get("used_memory", 0)),
            "used_memory_human": memory.get("used_memory_human"),
            "total_system_memory": system,
            "maxmemory_policy": memory.get("maxmemory_policy"),
        }
        return RedisInfo(
            version=str(server.get("redis_version", "")),
            maxmemory_bytes=maxmemory,
            used_memory_bytes=int(memory.get("used_memory", 0)),
            system_memory_bytes=system,
            eviction_policy=str(memory.get("maxmemory_policy", "")),
            evidence={**self._asked("INFO server, INFO memory"), "info": facts},
        )

    # -- behaviour -----------------------------------------------------------------------------------
    def _try_ping(self, where: str, **client_options: Any) -> tuple[bool, str]:
        """(refused, answer) of a PING; transport failures are errors, a refusal is an answer."""
        try:
            with self._client(**client_options) as client:
                client.ping()
        except redis.AuthenticationError as exc:
            return True, str(exc)
        except redis.ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "NOPERM" in str(exc):
                return True, str(exc)
            raise CheckError(_describe(exc, where)) from None
        except (redis.RedisError, OSError) as exc:
            raise CheckError(_describe(exc, where)) from None
        return False, "PONG"

    def auth(self) -> AuthBehaviour:
        where = self.endpoint.where
        # The configured credentials must work first, or a refusal below proves nothing.
        with self._translated(where), self._client() as client:
            client.ping()
        anonymous_refused, anonymous_answer = self._try_ping(where, credentials=False)
        default_refused: bool | None = None
        default_answer: str | None = None
        if self.endpoint.username not in (None, "", "default"):
            default_refused, default_answer = self._try_ping(where, username="default")
        return AuthBehaviour(
            anonymous_refused=anonymous_refused,
            anonymous_answer=anonymous_answer,
            default_user_refused=default_refused,
            default_user_answer=default_answer,
            evidence={
                **self._asked("PING without credentials; PING as user default with the configured password"),
                "configured_user": self.endpoint.username or "default",
                "anonymous": anonymous_answer,
                "default_user": default_answer,
            },
        )

    def tls(self, plaintext_url: str | None) -> TlsBehaviour:
        """A verified TLS handshake on the endpoint, and whether `plaintext_url` answers without TLS."""
        where = self.endpoint.where
        protocol: str | None = None
        if self.endpoint.tls:
            with self._translated(where), self._client() as client:
                client.ping()
                sock = getattr(client.connection, "_sock", None)
                protocol = sock.version() if isinstance(sock, ssl.SSLSocket) else "TLS"
        open_: bool | None = None
        answer: str | None = None
        if plaintext_url:
            open_, answer = self._plaintext_answers(plaintext_url)
        return TlsBehaviour(
            tls=self.endpoint.tls,
            protocol=protocol,
            plaintext_url=plaintext_url,
            plaintext_open=open_,
            plaintext_answer=answer,
            evidence={
                **self._asked("PING over TLS verified against the CA bundle; PING on the plaintext address"),
                "ca_bundle": self.endpoint.ca_bundle or "system trust store",
                "tls_protocol": protocol,
                "plaintext_url": plaintext_url,
                "plaintext_answer": answer,
            },
        )

    def _plaintext_answers(self, url: str) -> tuple[bool, str]:
        """Whether a Redis speaks plaintext at `url`: any Redis reply (PONG or NOAUTH) counts as open."""
        try:
            with self._client(url, credentials=False) as client:
                client.ping()
        except (redis.AuthenticationError, redis.ResponseError) as exc:
            return True, str(exc)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            return False, _describe(exc, url)
        return True, "PONG"


def plaintext_beside(url: str, default_port: int = 6379) -> str | None:
    """The plaintext address to try next to a TLS endpoint: the same host on Redis's default port."""
    parts = urlsplit(url)
    if parts.scheme != "rediss" or parts.port == default_port or not parts.hostname:
        return None
    return f"redis://{parts.hostname}:{default_port}/0"


# -- managed Redis: size from the cloud's API ------------------------------------------------------
def elasticache(
    resource: str, *, region: str | None, endpoint_url: str | None = None, timeout: float = 10.0
) -> ManagedInstance:
    """An ElastiCache replication group (or, failing that, a cache cluster) named `resource`."""
    from readiness.probes.aws import aws_client, translated_aws

    client = aws_client("elasticache", region=region, endpoint_url=endpoint_url, timeout=timeout)
    asked = "DescribeReplicationGroups"
    with translated_aws(f"ElastiCache {resource}"):
        try:
            group = client.describe_replication_groups(ReplicationGroupId=resource)["ReplicationGroups"][0]
        except client.exceptions.ReplicationGroupNotFoundFault:
            group = None
        if group is not None:
            node_type = group.get("CacheNodeType")
            members = group.get("MemberClusters") or []
            engine = None
            if members:
                asked += ", DescribeCacheClusters"
                try:  # the engine version lives on the member clusters
                    cluster = client.describe_cache_clusters(CacheClusterId=members[0])["CacheClusters"][0]
                    engine = cluster.get("EngineVersion")
                    node_type = node_type or cluster.get("CacheNodeType")
                except client.exceptions.CacheClusterNotFoundFault:
                    pass
        else:
            asked = "DescribeCacheClusters"
            cluster = client.describe_cache_clusters(CacheClusterId=resource)["CacheClusters"][0]
            node_type, engine = cluster.get("CacheNodeType"), cluster.get("EngineVersion")
    if not node_type:
        raise CheckError(f"ElastiCache {resource} reports no node type")
    return ManagedInstance(
        cloud="aws",
        service="ElastiCache",
        resource=resource,
        type_kind="node type",
        type_name=str(node_type),
        engine_version=engine,
        evidence={
            "cloud": "aws",
            "service": "ElastiCache",
            "resource": resource,
            "region": client.meta.region_name,
            "asked": asked,
            "node_type": node_type,
            "engine_version": engine,
            "at": now_iso(),
        },
    )


def memorystore(
    instance: str, *, project: str, region: str | None, endpoint_url: str | None = None, timeout: float = 10.0
) -> ManagedSize:
    """A Memorystore for Redis instance, sized by Cloud Monitoring's maxmemory gauge."""
    from readiness.probes.gcp import latest_gauge

    if not instance.startswith("projects/"):
        if not region:
            raise CheckError(
                "Memorystore: set cloud.region (or give cloud.redis as projects/P/locations/R/instances/N)"
            )
        instance = f"projects/{project}/locations/{region}/instances/{instance}"
    gauge = latest_gauge(
        project,
        "redis.googleapis.com/stats/memory/maxmemory",
        {"type": "redis_instance", "instance_id": instance},
        endpoint_url=endpoint_url,
        timeout=timeout,
    )
    return ManagedSize(
        service="Memorystore",
        resource=instance,
        described=f"instance {instance.rsplit('/', 1)[-1]} (stats/memory/maxmemory)",
        size=Size(vcpu=None, memory_gib=round(gauge.value / 1024**3, 2)),
        evidence={**gauge.evidence, "resource": instance},
    )


def azure_cache(
    name: str, *, subscription: str, resource_group: str, endpoint_url: str | None = None, timeout: float = 10.0
) -> ManagedInstance:
    """An Azure Cache for Redis: its SKU as `<name>_<family><capacity>` (e.g. Premium_P2)."""
    from azure.mgmt.redis import RedisManagementClient

    from readiness.probes.azure import arm_client, translated_azure

    client, options = arm_client(RedisManagementClient, subscription, endpoint_url=endpoint_url, timeout=timeout)
    with translated_azure(f"Azure Cache for Redis {name}"):
        cache = client.redis.get(resource_group, name, **options)
    sku = f"{cache.sku.name}_{cache.sku.family}{cache.sku.capacity}"
    return ManagedInstance(
        cloud="azure",
        service="Azure Cache for Redis",
        resource=name,
        type_kind="node type",
        type_name=sku,
        engine_version=cache.redis_version,
        evidence={
            "cloud": "azure",
            "service": "Azure Cache for Redis",
            "resource": cache.id or name,
            "asked": "Redis - Get (Microsoft.Cache/redis)",
            "sku": sku,
            "redis_version": cache.redis_version,
            "at": now_iso(),
        },
    )
