"""The Kubernetes probe: a read-only view of a cluster as typed observations.

One module per resource family, each with its dataclasses and the function that reads them:
``reader`` (paginated JSON GETs, one-line errors), ``nodes`` (nodes, groups, server version, kubelet skew),
``storage``, ``workloads`` (Deployments, StatefulSets, DaemonSets, pods, the Prefect workloads), ``ingress``
(IngressClasses, controllers, Ingresses, Gateways, HTTPRoutes, LoadBalancers), ``autoscaling``
(cluster-autoscaler, Karpenter, EKS node groups). :class:`Cluster` asks them, one method per question.
Pods are read only in the namespaces a check names, never cluster-wide.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubernetes.client import ApiClient

from readiness.probes.kubernetes.autoscaling import (
    Autoscaling,
    ScalingGroup,
    eks_node_groups,
    parse_autoscaler_status,
    read_autoscaling,
)
from readiness.probes.kubernetes.ingress import (
    KNOWN_CONTROLLER_IMAGES,
    Exposure,
    Ingress,
    IngressClass,
    LoadBalancer,
    controller_of,
    read_ingress,
)
from readiness.probes.kubernetes.nodes import (
    Node,
    NodeGroup,
    Nodes,
    ServerVersion,
    Taint,
    Toleration,
    kubelet_skew,
    read_nodes,
    read_version,
)
from readiness.probes.kubernetes.reader import (
    CONTROL_PLANE_LABELS,
    DEFAULT_CLASS_ANNOTATIONS,
    GIB,
    INSTANCE_TYPE_LABELS,
    NODE_GROUP_LABELS,
    PAGE,
    KubeReader,
    Obj,
    describe_api_error,
    describe_transport_error,
)
from readiness.probes.kubernetes.storage import Storage, StorageClass, read_storage
from readiness.probes.kubernetes.workloads import (
    ContainerState,
    Pod,
    PrefectWorkloads,
    Workload,
    read_pods,
    read_workloads,
)

__all__ = [
    "CONTROL_PLANE_LABELS", "DEFAULT_CLASS_ANNOTATIONS", "GIB", "INSTANCE_TYPE_LABELS", "KNOWN_CONTROLLER_IMAGES",
    "NODE_GROUP_LABELS", "PAGE", "Autoscaling", "Cluster", "ContainerState", "Exposure", "Ingress", "IngressClass",
    "KubeReader", "LoadBalancer", "Node", "NodeGroup", "Nodes", "Obj", "Pod", "PrefectWorkloads", "ScalingGroup",
    "ServerVersion", "Storage", "StorageClass", "Taint", "Toleration", "Workload", "controller_of",
    "describe_api_error", "describe_transport_error", "eks_node_groups", "kubelet_skew", "parse_autoscaler_status",
]  # fmt: skip


class Cluster:
    """What the Kubernetes checks ask of a cluster, one method per question."""

    def __init__(self, api: ApiClient, timeout: float = 10.0) -> None:
        self.reader = KubeReader(api, timeout)
        self.server = self.reader.server

    def version(self) -> ServerVersion:
        return read_version(self.reader)

    def nodes(self, tolerations: Sequence[Toleration] = ()) -> Nodes:
        return read_nodes(self.reader, tolerations)

    def storage(self) -> Storage:
        return read_storage(self.reader)

    def workloads(self, namespace: str, selector: str | None = None, with_pods: bool = True) -> list[Workload]:
        return read_workloads(self.reader, namespace, selector, with_pods)

    def pods(self, namespace: str, selector: str | None = None) -> list[Pod]:
        return read_pods(self.reader, namespace, selector)

    def prefect_workloads(self, namespace: str, selector: str) -> PrefectWorkloads:
        return PrefectWorkloads(namespace, selector, self.workloads(namespace, selector))

    def ingress(self, ingress_namespace: str, prefect_namespace: str) -> Ingress:
        return read_ingress(self.reader, ingress_namespace, prefect_namespace)

    def autoscaling(self, nodes: Nodes | None = None, namespace: str = "kube-system") -> Autoscaling:
        return read_autoscaling(self.reader, nodes, namespace)
