"""Autoscaling: cluster-autoscaler (and its status ConfigMap), Karpenter NodePools, EKS node groups."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from readiness.probes.kubernetes.nodes import Nodes
from readiness.probes.kubernetes.reader import KubeReader
from readiness.probes.kubernetes.workloads import Workload, read_workloads


# -- autoscaling ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScalingGroup:
    name: str
    source: str
    min_size: int | None
    max_size: int | None
    current: int | None = None

    @property
    def scales(self) -> bool:
        """Bounds that let it add nodes; max equal to min is not autoscaling."""
        if self.max_size is None:
            return True  # unbounded (e.g. a Karpenter NodePool without limits)
        return self.min_size is None or self.max_size > self.min_size

    @property
    def at_max(self) -> bool:
        return self.max_size is not None and self.current is not None and self.current >= self.max_size

    def describe(self) -> str:
        bounds = f"min {self.min_size}, max {self.max_size}" if self.max_size is not None else "no upper limit"
        now = f", now {self.current}" if self.current is not None else ""
        return f"{self.name} [{self.source}] ({bounds}{now})"


_LEGACY_GROUP = re.compile(
    r"Name:\s*(?P<name>\S+)\s*\n\s*Health:.*?cloudProviderTarget=(?P<target>\d+)\s*"
    r"\(minSize=(?P<min>\d+),\s*maxSize=(?P<max>\d+)\)",
    re.S,
)


def parse_autoscaler_status(text: str) -> list[ScalingGroup]:
    """Node groups from the cluster-autoscaler-status ConfigMap: YAML (1.30+) or the older text form."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    groups: list[ScalingGroup] = []
    if isinstance(data, dict) and isinstance(data.get("nodeGroups"), list):
        for g in data["nodeGroups"]:
            health = g.get("health") or {}
            groups.append(
                ScalingGroup(
                    name=str(g.get("name")),
                    source="cluster-autoscaler",
                    min_size=_int(health.get("minSize")),
                    max_size=_int(health.get("maxSize")),
                    current=_int(health.get("cloudProviderTarget")),
                )
            )
        return groups
    for m in _LEGACY_GROUP.finditer(text):
        groups.append(ScalingGroup(m["name"], "cluster-autoscaler", int(m["min"]), int(m["max"]), int(m["target"])))
    return groups


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Autoscaling:
    """Every source of node autoscaling found, with the node groups each can scale."""

    cluster_autoscaler: Workload | None = None
    status_configmap: str | None = None  # namespace/name when published
    autoscaler_groups: list[ScalingGroup] = field(default_factory=list)
    karpenter_pools: list[ScalingGroup] = field(default_factory=list)
    eks_groups: list[ScalingGroup] | None = None  # None: not asked (no AWS target)
    eks_error: str | None = None
    node_group_labels: dict[str, str] = field(default_factory=dict)  # group -> label it came from

    @property
    def autoscaler_running(self) -> bool:
        if self.cluster_autoscaler is not None:
            return self.cluster_autoscaler.is_available
        # GKE and AKS run the autoscaler outside the cluster and publish only its status ConfigMap.
        return self.status_configmap is not None

    @property
    def groups(self) -> list[ScalingGroup]:
        """Groups an autoscaler acts on, EKS's own scaling config preferred over the status ConfigMap."""
        out: list[ScalingGroup] = list(self.karpenter_pools)
        if self.autoscaler_running:
            out += self.eks_groups if self.eks_groups else self.autoscaler_groups
        return out

    @property
    def sources(self) -> list[str]:
        out = []
        if self.karpenter_pools:
            out.append("Karpenter NodePools")
        if self.autoscaler_running:
            if self.cluster_autoscaler is not None:
                c = self.cluster_autoscaler
                out.append(f"cluster-autoscaler ({c.ref} Available)")
            else:
                out.append(f"cluster-autoscaler (managed; status ConfigMap {self.status_configmap})")
        return out

    @property
    def enabled(self) -> bool:
        return any(g.scales for g in self.groups)

    @property
    def fixed_groups(self) -> list[str]:
        candidates = self.groups or (self.eks_groups or []) or self.autoscaler_groups
        return [g.describe() for g in candidates if not g.scales]

    @property
    def groups_at_max(self) -> list[str]:
        return [g.describe() for g in self.groups if g.at_max]

    def summary(self) -> str:
        if self.enabled:
            return "enabled via " + ", ".join(self.sources)
        if self.fixed_groups:
            return "node groups with max equal to min: " + "; ".join(self.fixed_groups)
        if self.eks_groups and not self.autoscaler_running:
            return "EKS node groups have scaling bounds but no autoscaler (cluster-autoscaler or Karpenter) runs"
        if self.cluster_autoscaler is not None and not self.autoscaler_running:
            return f"{self.cluster_autoscaler.describe()} (not Available)"
        return "no autoscaler found (cluster-autoscaler, Karpenter NodePools, EKS node groups)"

    def evidence(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "cluster_autoscaler": self.cluster_autoscaler.describe() if self.cluster_autoscaler else None,
            "status_configmap": self.status_configmap,
            "autoscaler_groups": [g.describe() for g in self.autoscaler_groups],
            "karpenter_nodepools": [g.describe() for g in self.karpenter_pools],
            "eks_nodegroups": None if self.eks_groups is None else [g.describe() for g in self.eks_groups],
            "eks_error": self.eks_error,
            "node_group_labels": self.node_group_labels,
            "groups_at_max": self.groups_at_max,
        }


# -- EKS node groups through boto3 ---------------------------------------------------------------
def eks_node_groups(
    cluster: str, region: str | None, endpoint_url: str | None = None, timeout: float = 10.0
) -> list[ScalingGroup]:
    """The scaling config of every managed node group of an EKS cluster (boto3's default credentials)."""
    from readiness.probes.aws import aws_client, translated_aws

    eks = aws_client("eks", region=region, endpoint_url=endpoint_url, timeout=timeout)
    groups = []
    with translated_aws(f"EKS node groups of cluster {cluster!r}"):
        names: list[str] = []
        for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster):
            names += page.get("nodegroups", [])
        for name in names:
            scaling = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"].get("scalingConfig")
            scaling = scaling or {}
            groups.append(
                ScalingGroup(
                    name=name,
                    source="eks",
                    min_size=_int(scaling.get("minSize")),
                    max_size=_int(scaling.get("maxSize")),
                    current=_int(scaling.get("desiredSize")),
                )
            )
    return groups


def read_autoscaling(reader: KubeReader, nodes: Nodes | None = None, namespace: str = "kube-system") -> Autoscaling:
    result = Autoscaling()
    for w in read_workloads(reader, namespace, with_pods=False):
        name = w.labels.get("app.kubernetes.io/name", "") or w.name
        if "cluster-autoscaler" in name or any("cluster-autoscaler" in image for image in w.images):
            result.cluster_autoscaler = w
            break
    status = reader.get(f"/api/v1/namespaces/{namespace}/configmaps/cluster-autoscaler-status",
                        what="the cluster-autoscaler-status ConfigMap", missing_ok=True)  # fmt: skip
    if status:
        result.status_configmap = f"{namespace}/cluster-autoscaler-status"
        result.autoscaler_groups = parse_autoscaler_status((status.get("data") or {}).get("status", ""))
    for o in reader.pages("/apis/karpenter.sh/v1/nodepools", what="Karpenter NodePools", missing_ok=True):
        limits = (o.get("spec") or {}).get("limits") or {}
        result.karpenter_pools.append(
            ScalingGroup(
                o["metadata"]["name"] + (f" limits {limits}" if limits else " (no limits)"),
                "karpenter",
                None,
                _int(limits.get("nodes")),
            )
        )
    if nodes is not None:
        result.node_group_labels = {
            n.node_group: n.node_group_label for n in nodes.all if n.node_group and n.node_group_label
        }
    return result
