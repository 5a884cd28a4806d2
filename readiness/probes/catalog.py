"""Sizes of managed services: from the profile's catalog of instance types (vCPU, memory), or measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readiness.core.expect import CheckError


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
class ManagedSize:
    """A managed resource (ElastiCache node, RDS instance, Cloud SQL instance, ...) and its size."""

    service: str
    resource: str
    #: what the size was read from, e.g. "node type cache.r6g.large"
    described: str
    size: Size
    evidence: dict[str, Any]

    @classmethod
    def from_catalog(cls, managed: Any, type_name: str, catalog: dict[str, Any], table: str) -> ManagedSize:
        size = catalog_size(catalog, table, type_name)
        evidence = {
            **managed.evidence,
            "catalog": {table: {type_name: {"vcpu": size.vcpu, "memory_gib": size.memory_gib}}},
        }
        kind = "node type" if table == "redis_node_types" else "instance class"
        return cls(managed.service, managed.resource, f"{kind} {type_name}", size, evidence)
