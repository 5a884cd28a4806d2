"""Nodes, their sizes, taints and groups; the server version and kubelet skew."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from readiness.probes.kubernetes.reader import (
    CONTROL_PLANE_LABELS,
    INSTANCE_TYPE_LABELS,
    NODE_GROUP_LABELS,
    KubeReader,
    Obj,
    _gib,
    _minor,
    _true,
    _vcpu,
)


# -- nodes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


@dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Toleration:
        return cls(data.get("key"), data.get("operator") or "Equal", data.get("value"), data.get("effect"))

    def tolerates(self, taint: Taint) -> bool:
        """The scheduler's rule (k8s.io/api/core/v1 Toleration.ToleratesTaint)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return bool(self.key) and (self.value or "") == (taint.value or "")


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool
    unschedulable: bool
    control_plane: bool
    taints: tuple[Taint, ...]
    vcpu: float | None
    memory_gib: float | None
    allocatable_vcpu: float | None
    allocatable_memory_gib: float | None
    instance_type: str | None
    node_group: str | None
    node_group_label: str | None
    kubelet_version: str | None

    @classmethod
    def parse(cls, obj: Obj) -> Node:
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        labels = meta.get("labels") or {}
        capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
        group_label = next((label for label in NODE_GROUP_LABELS if labels.get(label)), None)
        return cls(
            name=meta.get("name", "?"),
            ready=_true(status.get("conditions"), "Ready"),
            unschedulable=bool(spec.get("unschedulable")),
            control_plane=any(label in labels for label in CONTROL_PLANE_LABELS),
            taints=tuple(
                Taint(t.get("key", ""), t.get("value"), t.get("effect", "")) for t in spec.get("taints") or []
            ),
            vcpu=_vcpu(capacity.get("cpu")),
            memory_gib=_gib(capacity.get("memory")),
            allocatable_vcpu=_vcpu(allocatable.get("cpu")),
            allocatable_memory_gib=_gib(allocatable.get("memory")),
            instance_type=next((labels[k] for k in INSTANCE_TYPE_LABELS if labels.get(k)), None),
            node_group=labels.get(group_label) if group_label else None,
            node_group_label=group_label,
            kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
        )

    def blocking_taints(self, tolerations: Sequence[Toleration]) -> list[Taint]:
        return [
            t
            for t in self.taints
            if t.effect in ("NoSchedule", "NoExecute") and not any(tol.tolerates(t) for tol in tolerations)
        ]

    def unusable_because(self, tolerations: Sequence[Toleration] = ()) -> str | None:
        """Why Prefect's pods cannot land here, or None when they can."""
        if not self.ready:
            return "NotReady"
        if self.unschedulable:
            return "cordoned (unschedulable)"
        if self.control_plane:
            return "control-plane node"
        blocking = self.blocking_taints(tolerations)
        if blocking:
            return "tainted " + ", ".join(map(str, blocking))
        return None


@dataclass(frozen=True)
class NodeGroup:
    """Usable nodes that share a node group (or, without one, an instance type and size)."""

    name: str
    instance_type: str | None
    vcpu: float | None
    memory_gib: float | None
    nodes: int

    def describe(self) -> str:
        kind = self.instance_type or "unknown instance type"
        return f"{self.name} ({kind}, {self.vcpu:g} vCPU / {self.memory_gib:g} GiB, {self.nodes} node(s))"


@dataclass
class Nodes:
    """The cluster's nodes, judged against the tolerations of Prefect's pods."""

    all: list[Node]
    tolerations: tuple[Toleration, ...] = ()

    @property
    def ready_nodes(self) -> list[Node]:
        """Nodes Prefect's pods can use: Ready, schedulable, not control-plane, no untolerated taint."""
        return [n for n in self.all if n.unusable_because(self.tolerations) is None]

    @property
    def excluded(self) -> dict[str, str]:
        out = {}
        for node in self.all:
            reason = node.unusable_because(self.tolerations)
            if reason:
                out[node.name] = reason
        return out

    @property
    def groups(self) -> list[NodeGroup]:
        buckets: dict[tuple[str, str | None, float | None, float | None], int] = Counter()
        for n in self.ready_nodes:
            name = n.node_group or n.instance_type or "ungrouped"
            buckets[(name, n.instance_type, n.vcpu, n.memory_gib)] += 1
        return [NodeGroup(name, itype, cpu, mem, count) for (name, itype, cpu, mem), count in sorted(buckets.items())]

    @property
    def kubelet_versions(self) -> dict[str, int]:
        return dict(Counter(n.kubelet_version or "unknown" for n in self.all))

    def node_groups(self, limit: int = 20) -> list[dict[str, Any]]:
        """Every node group (pool) of the cluster by its cloud label (EKS node group, GKE node pool, AKS node
        pool, Karpenter NodePool), usable nodes or not: what a remediation names."""
        groups: dict[tuple[str, str | None], list[Node]] = {}
        for n in self.all:
            if n.control_plane:
                continue
            groups.setdefault((n.node_group or n.instance_type or "ungrouped", n.node_group_label), []).append(n)
        out = []
        for (name, label), members in sorted(groups.items(), key=lambda item: item[0][0])[:limit]:
            first = members[0]
            out.append(
                {
                    "name": name,
                    "label": label,
                    "instance_type": first.instance_type,
                    "vcpu": first.vcpu,
                    "memory_gib": first.memory_gib,
                    "nodes": len(members),
                    "usable": sum(1 for n in members if n.unusable_because(self.tolerations) is None),
                    "node_names": [n.name for n in members[:5]],
                    "kubelet_versions": sorted({n.kubelet_version or "unknown" for n in members}),
                }
            )
        return out

    def evidence(self, limit: int = 20) -> dict[str, Any]:
        excluded = self.excluded
        return {
            "nodes_total": len(self.all),
            "nodes_usable": len(self.all) - len(excluded),
            "excluded": dict(list(excluded.items())[:limit]),
            "excluded_more": max(0, len(excluded) - limit),
            "groups": [g.describe() for g in self.groups[:limit]],
            "node_groups": self.node_groups(limit),
            "prefect_tolerations": [vars(t) for t in self.tolerations],
        }


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    platform: str

    @property
    def minor(self) -> tuple[int, int] | None:
        return _minor(self.git_version)


def kubelet_skew(server: ServerVersion, nodes: Nodes) -> tuple[int, list[str]]:
    """Largest minor-version distance of a kubelet behind the API server, and the nodes ahead of it."""
    server_minor = server.minor
    if server_minor is None:
        return 0, []
    worst, ahead = 0, []
    for version, _count in nodes.kubelet_versions.items():
        minor = _minor(version)
        if minor is None:
            continue
        if minor > server_minor:
            ahead.append(version)
        elif minor[0] == server_minor[0]:
            worst = max(worst, server_minor[1] - minor[1])
    return worst, ahead


def read_nodes(reader: KubeReader, tolerations: Sequence[Toleration] = ()) -> Nodes:
    return Nodes([Node.parse(n) for n in reader.pages("/api/v1/nodes", what="nodes")], tuple(tolerations))


def read_version(reader: KubeReader) -> ServerVersion:
    data = reader.get("/version", what="the server version")
    return ServerVersion(str(data.get("gitVersion", "")), str(data.get("platform", "")))
