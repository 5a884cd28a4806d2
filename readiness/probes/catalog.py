"""Sizes of managed services: from the profile's catalog of instance types (vCPU, memory), or measured."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from readiness.core.expect import CheckError
from readiness.targets import Targets


@dataclass(frozen=True)
class Size:
    #: None where the cloud does not say (Memorystore publishes memory, not vCPUs)
    vcpu: float | None
    memory_gib: float


def catalog_size(catalog: dict[str, Any], table: str, type_name: str) -> Size:
    """The size of `type_name` in the profile's `catalog.<table>`; an unknown type is an error to act on."""
    entry = (catalog.get(table) or {}).get(type_name)
    if not entry:
        raise CheckError(
            f"{type_name} is not in the profile's catalog.{table}: add it with its vcpu and memory_gib "
            "(a profile that extends this one can)"
        )
    return Size(vcpu=float(entry["vcpu"]), memory_gib=float(entry["memory_gib"]))


@dataclass(frozen=True)
class ManagedInstance:
    """A managed database as its cloud describes it: the type the profile's catalog sizes (RDS instance class,
    ElastiCache node type, Azure SKU) and its engine version."""

    cloud: str
    service: str
    resource: str
    #: "instance class" or "node type": what the cloud calls `type_name`
    type_kind: str
    type_name: str
    engine_version: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class ManagedSize:
    """A managed resource (ElastiCache node, RDS instance, Cloud SQL instance, ...) and its size."""

    service: str
    resource: str
    #: what the size was read from, e.g. "node type cache.r6g.large"
    described: str
    size: Size
    evidence: dict[str, Any]

    @classmethod
    def from_catalog(cls, managed: ManagedInstance, catalog: dict[str, Any], table: str) -> ManagedSize:
        type_name = managed.type_name
        size = catalog_size(catalog, table, type_name)
        evidence = {
            **managed.evidence,
            "catalog": {table: {type_name: {"vcpu": size.vcpu, "memory_gib": size.memory_gib}}},
        }
        return cls(managed.service, managed.resource, f"{managed.type_kind} {type_name}", size, evidence)


@dataclass(frozen=True)
class CloudResource:
    """A managed resource the targets name (`cloud.provider` and `cloud.redis` / `cloud.postgres`) and where
    its cloud's API is."""

    provider: str
    resource: str
    region: str | None
    endpoint_url: str | None
    targets: Targets
    timeout: float

    def require(self, key: str) -> Any:
        return self.targets.require(key)


def managed_size(
    targets: Targets,
    catalog: dict[str, Any],
    timeout: float,
    *,
    key: str,
    what: str,
    table: str,
    readers: Mapping[str, Callable[[CloudResource], ManagedInstance | ManagedSize]],
) -> ManagedSize | None:
    """The size of the managed `what` the targets name under `key`, read by the provider's reader; None when
    none is named (a self-hosted one). A reader returns a ManagedSize (measured) or a ManagedInstance
    whose type (node type, instance class) the profile's `catalog.<table>` sizes."""
    provider, resource = targets.get("cloud.provider"), targets.get(key)
    if not provider or not resource:
        return None
    reader = readers.get(provider)
    if reader is None:
        import pytest

        pytest.skip(f"managed {what} on {provider!r} is not supported: cloud.provider is one of {', '.join(readers)}")
    cloud = CloudResource(
        provider, str(resource), targets.get("cloud.region"), targets.get("cloud.endpoint_url"), targets, timeout
    )
    found = reader(cloud)
    if isinstance(found, ManagedSize):
        return found
    return ManagedSize.from_catalog(found, catalog, table)
