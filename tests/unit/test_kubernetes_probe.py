"""The Kubernetes probe's rules on objects built in code: which nodes count, sizes, autoscaler status."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from readiness.core.expect import CheckError
from readiness.probes.kubernetes import (
    Autoscaling,
    KubeReader,
    Node,
    Nodes,
    Pod,
    PrefectWorkloads,
    ScalingGroup,
    ServerVersion,
    Toleration,
    Workload,
    kubelet_skew,
    parse_autoscaler_status,
)
from readiness.probes.kubernetes.workloads import _with_pods


def node(name: str, *, ready: bool = True, cordoned: bool = False, taints=(), labels=None, cpu="8", memory="32Gi",
         kubelet="v1.34.4") -> Node:  # fmt: skip
    return Node.parse(
        {
            "metadata": {"name": name, "labels": {"node.kubernetes.io/instance-type": "m5.2xlarge",
                                                  "eks.amazonaws.com/nodegroup": "pool", **(labels or {})}},
            "spec": {"unschedulable": cordoned, "taints": list(taints)},
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "capacity": {"cpu": cpu, "memory": memory},
                "allocatable": {"cpu": "7910m", "memory": "31Gi"},
                "nodeInfo": {"kubeletVersion": kubelet},
            },
        }
    )  # fmt: skip


def test_only_ready_schedulable_worker_nodes_without_blocking_taints_count():
    nodes = Nodes(
        [
            node("good"),
            node("notready", ready=False),
            node("cordoned", cordoned=True),
            node("cp", labels={"node-role.kubernetes.io/control-plane": ""}),
            node("gpu", taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]),
            node("evicting", taints=[{"key": "maintenance", "effect": "NoExecute"}]),
            node("prefer", taints=[{"key": "spot", "effect": "PreferNoSchedule"}]),
        ]
    )
    assert [n.name for n in nodes.ready_nodes] == ["good", "prefer"]
    assert nodes.excluded == {
        "notready": "NotReady",
        "cordoned": "cordoned (unschedulable)",
        "cp": "control-plane node",
        "gpu": "tainted nvidia.com/gpu=true:NoSchedule",
        "evicting": "tainted maintenance:NoExecute",
    }


def test_a_taint_prefects_pods_tolerate_does_not_exclude_the_node():
    taint = {"key": "dedicated", "value": "prefect", "effect": "NoSchedule"}
    tolerant = Nodes([node("a", taints=[taint])], (Toleration("dedicated", "Equal", "prefect", "NoSchedule"),))
    assert len(tolerant.ready_nodes) == 1
    assert Nodes([node("a", taints=[taint])], (Toleration(operator="Exists"),)).ready_nodes
    other_value = Nodes([node("a", taints=[taint])], (Toleration("dedicated", "Equal", "infra"),))
    assert other_value.ready_nodes == []


def test_groups_carry_instance_type_size_and_count():
    nodes = Nodes([node("a"), node("b"), node("c", cpu="4", memory="8Gi", labels={
        "eks.amazonaws.com/nodegroup": "small", "node.kubernetes.io/instance-type": "c5.xlarge"})])  # fmt: skip
    assert [g.describe() for g in nodes.groups] == [
        "pool (m5.2xlarge, 8 vCPU / 32 GiB, 2 node(s))",
        "small (c5.xlarge, 4 vCPU / 8 GiB, 1 node(s))",
    ]
    assert nodes.all[0].allocatable_vcpu == 7.91


def test_kubelet_skew_against_the_server():
    nodes = Nodes([node("a"), node("b", kubelet="v1.29.15"), node("c", kubelet="v1.35.0")])
    skew, ahead = kubelet_skew(ServerVersion("v1.34.4", "linux/amd64"), nodes)
    assert skew == 5
    assert ahead == ["v1.35.0"]


YAML_STATUS = """
autoscalerStatus: Running
nodeGroups:
  - name: eks-pool
    health: {status: Healthy, cloudProviderTarget: 10, minSize: 3, maxSize: 10}
  - name: eks-fixed
    health: {status: Healthy, cloudProviderTarget: 3, minSize: 3, maxSize: 3}
"""

LEGACY_STATUS = """Cluster-autoscaler status at 2024-01-01 00:00:00 +0000 UTC:
Cluster-wide:
  Health:      Healthy (ready=3 unready=0 notStarted=0 longNotStarted=0 registered=3 longUnregistered=0)
NodeGroups:
  Name:        https://www.googleapis.com/compute/v1/projects/p/zones/z/instanceGroups/gke-pool-grp
  Health:      Healthy (ready=3 unready=0 notStarted=0 longNotStarted=0 registered=3 longUnregistered=0 cloudProviderTarget=3 (minSize=1, maxSize=5))
"""  # noqa: E501


def test_autoscaler_status_in_both_formats():
    groups = parse_autoscaler_status(YAML_STATUS)
    assert [(g.name, g.min_size, g.max_size, g.current) for g in groups] == [
        ("eks-pool", 3, 10, 10),
        ("eks-fixed", 3, 3, 3),
    ]
    assert groups[0].at_max and groups[0].scales and not groups[1].scales
    legacy = parse_autoscaler_status(LEGACY_STATUS)
    assert [(g.min_size, g.max_size, g.current) for g in legacy] == [(1, 5, 3)]


def _autoscaler(available: bool) -> Workload:
    return Workload.parse(
        {
            "kind": "Deployment",
            "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "ca"}}, "template": {"spec": {}}},
            "status": {"availableReplicas": int(available), "readyReplicas": int(available)},
        }
    )


def test_autoscaling_needs_a_running_autoscaler_and_room_above_min():
    fixed = [ScalingGroup("pool", "cluster-autoscaler", 3, 3, 3)]
    assert not Autoscaling(_autoscaler(True), "kube-system/x", fixed).enabled
    assert "max equal to min" in Autoscaling(_autoscaler(True), "kube-system/x", fixed).summary()
    room = [ScalingGroup("pool", "cluster-autoscaler", 3, 10, 3)]
    assert Autoscaling(_autoscaler(True), "kube-system/x", room).enabled
    assert not Autoscaling(_autoscaler(False), None, room).enabled
    # GKE/AKS: only the status ConfigMap is published in the cluster
    assert Autoscaling(None, "kube-system/cluster-autoscaler-status", room).enabled
    eks_only = Autoscaling(eks_groups=[ScalingGroup("pool", "eks", 3, 10, 3)])
    assert not eks_only.enabled
    assert "no autoscaler" in eks_only.summary()
    eks_fixed = Autoscaling(_autoscaler(True), None, room, eks_groups=[ScalingGroup("pool", "eks", 3, 3, 3)])
    assert not eks_fixed.enabled  # EKS's own scaling config wins over the status ConfigMap
    assert Autoscaling(karpenter_pools=[ScalingGroup("default", "karpenter", None, None)]).enabled


def _pod(name: str, app: str, *, phase="Running", waiting=None, restarts=0) -> Pod:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return Pod.parse(
        {
            "metadata": {"name": name, "namespace": "prefect", "labels": {"app": app}},
            "spec": {"nodeName": "n"},
            "status": {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts, "state": state}]},
        }
    )


def test_prefect_workload_faults_are_named():
    server = Workload.parse(
        {
            "kind": "Deployment",
            "metadata": {"name": "prefect-server", "namespace": "prefect"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "server"}},
                "template": {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}},
            },
            "status": {"availableReplicas": 1, "readyReplicas": 1},
        }
    )
    pods = [_pod("s-1", "server", waiting="CrashLoopBackOff", restarts=7), _pod("s-2", "server", phase="Pending"),
            _pod("w-1", "worker")]  # fmt: skip
    workloads = PrefectWorkloads("prefect", "app", [_with_pods(server, pods)])
    assert [p.name for p in workloads.workloads[0].pods] == ["s-1", "s-2"]
    assert workloads.failing_containers == ["s-1/c: CrashLoopBackOff"]
    assert workloads.unavailable == ["Deployment prefect/prefect-server: 1/2 available, 1 ready"]
    assert workloads.pending_pods == ["prefect/s-2"]
    assert workloads.most_restarted is not None and workloads.most_restarted.restarts == 7
    assert workloads.containers_without_requests == ["Deployment prefect/prefect-server: c"]


def _chart_deployment(name: str, chart: str, component: str | None, ready: int = 1) -> Workload:
    labels = {"app.kubernetes.io/name": chart, "app.kubernetes.io/instance": chart}
    if component:
        labels["app.kubernetes.io/component"] = component
    return Workload.parse(
        {
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "prefect", "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}},
            "status": {"availableReplicas": ready, "readyReplicas": ready},
        }
    )


def test_prefect_workloads_are_named_by_their_chart_role_in_the_charts_order():
    """Found by the charts' labels whatever their names: the server chart's server and background services, the
    worker chart's worker, in that order; a workload without a component label keeps its name."""
    workloads = PrefectWorkloads("prefect", "app.kubernetes.io/name in (prefect-server,prefect-worker)", [
        _chart_deployment("acme-workers", "prefect-worker", "worker"),
        _chart_deployment("acme-api", "prefect-server", "server"),
        _chart_deployment("acme-api-bg", "prefect-server", "background-services", ready=0),
        _chart_deployment("extra", "prefect-server", None),
    ])  # fmt: skip
    assert [w.role for w in workloads.by_role] == ["server", "background services", "worker", "extra"]
    assert workloads.readiness_sentence() == (
        "server acme-api 1/1 ready, background services acme-api-bg 0/1 ready, worker acme-workers 1/1 ready, "
        "extra extra 1/1 ready"
    )
    assert workloads.evidence()["roles"]["Deployment prefect/acme-api-bg"] == (
        "background services (prefect-server/prefect-server)"
    )


def test_an_unreachable_api_server_is_one_line_at_once():
    configuration = client.Configuration(host="https://127.0.0.1:9")
    configuration.retries = 0
    reader = KubeReader(client.ApiClient(configuration), timeout=2)
    started = time.monotonic()
    with pytest.raises(CheckError) as caught:
        reader.get("/api/v1/nodes", what="nodes")
    assert "connection to the API server https://127.0.0.1:9 refused" in str(caught.value)
    assert time.monotonic() - started < 2
