"""Nodes: enough of them that Prefect's pods can use, big enough, on a supported Kubernetes version."""

from __future__ import annotations

import pytest

from readiness.probes.kubernetes import kubelet_skew


@pytest.mark.requirement("K8S-NODE-COUNT")
def test_enough_nodes_can_run_prefect_pods(nodes, expect, params):
    expect.at_least(
        "nodes Prefect's pods can use (Ready, schedulable, not control-plane, no untolerated taint)",
        len(nodes.ready_nodes),
        params["min"],
        unit="nodes",
        evidence=nodes.evidence(),
    )


@pytest.mark.requirement("K8S-NODE-SIZE")
def test_every_usable_node_group_is_big_enough(nodes, expect, params, profile):
    catalog = profile.catalog.get("instance_types", {})
    small = []
    for group in nodes.groups:
        # The catalog's nominal size where the type is known (capacity is a little under it: the
        # kernel's reservation), the node's reported capacity otherwise.
        nominal = catalog.get(group.instance_type or "", {})
        vcpu = nominal.get("vcpu", group.vcpu)
        memory = nominal.get("memory_gib", group.memory_gib)
        if vcpu is None or memory is None or vcpu < params["min_vcpu"] or memory < params["min_memory_gib"]:
            small.append(group.describe() + (" [catalog]" if nominal else " [capacity]"))
    expect.true(
        f"usable node groups smaller than {params['min_vcpu']} vCPU / {params['min_memory_gib']} GiB",
        not small and bool(nodes.groups),
        observed=small or ("no usable nodes" if not nodes.groups else "none"),
        expected="none",
        evidence={
            **nodes.evidence(),
            "catalog": {g.instance_type: catalog.get(g.instance_type or "") for g in nodes.groups},
        },
    )


@pytest.mark.requirement("K8S-VERSION")
def test_kubernetes_version_is_supported(server_version, nodes, expect, params):
    evidence = {"server": server_version.git_version, "kubelets": nodes.kubelet_versions}
    expect.version_at_least("API server version", server_version.git_version, params["min"], evidence=evidence)
    skew, ahead = kubelet_skew(server_version, nodes)
    expect.true("kubelets newer than the API server", not ahead, observed=ahead or "none", expected="none",
                evidence=evidence)  # fmt: skip
    expect.at_most("kubelet minor versions behind the API server", skew, params["max_kubelet_skew"],
                   unit="minor versions", evidence=evidence)  # fmt: skip
