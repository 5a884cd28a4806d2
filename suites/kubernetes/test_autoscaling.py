"""Node autoscaling, whatever provides it: cluster-autoscaler, Karpenter, EKS managed node groups."""

from __future__ import annotations

import pytest

from readiness.probes.kubernetes import eks_node_groups


@pytest.mark.requirement("K8S-AUTOSCALING")
def test_nodes_are_autoscaled(kube, nodes, expect, probe_timeout):
    autoscaling = kube.cluster.autoscaling(nodes)
    targets = kube.targets
    if targets.get("cloud.provider") == "aws" and targets.get("cloud.cluster"):
        autoscaling.eks_groups = eks_node_groups(
            targets.get("cloud.cluster"),
            targets.get("cloud.region"),
            endpoint_url=targets.get("cloud.endpoint_url"),
            timeout=probe_timeout,
        )
    evidence = {
        **autoscaling.evidence(),
        **targets.evidence("cloud.provider", "cloud.cluster", "cloud.region"),
    }
    expect.true(
        "node autoscaling",
        autoscaling.enabled,
        observed=autoscaling.summary(),
        expected="an autoscaler with a node group whose max is above its min",
        evidence=evidence,
    )
