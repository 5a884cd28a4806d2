"""Fixtures of the Redis suite: one probe per Redis role the install uses, and its size from the cloud."""

from __future__ import annotations

from typing import Any

import pytest

from readiness.probes.catalog import ManagedSize, managed_size
from readiness.probes.redis import (
    RedisEndpoint,
    RedisProbe,
    azure_cache,
    elasticache,
    memorystore,
    plaintext_beside,
)
from readiness.targets import Targets


def _roles(urls: Any) -> dict[str, str]:
    if isinstance(urls, str):
        return {"messaging": urls}
    return {str(role): str(url) for role, url in dict(urls).items()}


@pytest.fixture
def redis_probes(targets: Targets, probe_timeout: float) -> list[RedisProbe]:
    """A probe per role (messaging, cache, ...) of `redis.urls`."""
    urls = _roles(targets.require("redis.urls"))
    return [
        RedisProbe(
            RedisEndpoint(
                role=role,
                url=url,
                username=targets.get("redis.username"),
                password=targets.get("redis.password"),
                ca_bundle=targets.ca_bundle("redis"),
            ),
            timeout=probe_timeout,
        )
        for role, url in sorted(urls.items())
    ]


@pytest.fixture
def redis_plaintext_url(targets: Targets, params):
    """Where a plaintext Redis must not answer: redis.plaintext_url, else the TLS host on the default port."""
    configured = targets.get("redis.plaintext_url")

    def plaintext_url(endpoint: RedisEndpoint) -> str | None:
        return configured or plaintext_beside(endpoint.url, params.get("default_plaintext_port", 6379))

    return plaintext_url


@pytest.fixture
def managed_redis(targets: Targets, profile, probe_timeout: float) -> ManagedSize | None:
    """The managed Redis named by cloud.provider and cloud.redis with its size (ElastiCache and Azure Cache:
    node type through the profile's catalog; Memorystore: its maxmemory metric); None for a self-hosted one."""
    return managed_size(
        targets, profile.catalog, probe_timeout, key="cloud.redis", what="Redis", table="redis_node_types",
        readers={
            "aws": lambda c: elasticache(c.resource, region=c.region, endpoint_url=c.endpoint_url, timeout=c.timeout),
            "gcp": lambda c: memorystore(c.resource, project=c.require("cloud.project"), region=c.region,
                                         endpoint_url=c.endpoint_url, timeout=c.timeout),
            "azure": lambda c: azure_cache(c.resource, subscription=c.require("cloud.subscription"),
                                           resource_group=c.require("cloud.resource_group"),
                                           endpoint_url=c.endpoint_url, timeout=c.timeout),
        },
    )  # fmt: skip
