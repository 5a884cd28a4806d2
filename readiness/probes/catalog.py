"""Sizes of cloud instance types from the profile's catalog (vCPU, memory), for managed services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readiness.expect import CheckError


@dataclass(frozen=True)
class Size:
    vcpu: float
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
    """A managed resource (ElastiCache node, RDS instance, ...) with its size from the catalog."""

    service: str
    resource: str
    type_name: str
    size: Size
    evidence: dict[str, Any]

    @property
    def node_type(self) -> str:
        return self.type_name

    @classmethod
    def of(cls, managed: Any, size: Size, type_name: str | None = None) -> ManagedSize:
        name = type_name or getattr(managed, "node_type", None) or getattr(managed, "instance_class", "")
        evidence = {**managed.evidence, "catalog": {"vcpu": size.vcpu, "memory_gib": size.memory_gib}}
        return cls(managed.service, managed.resource, str(name), size, evidence)
