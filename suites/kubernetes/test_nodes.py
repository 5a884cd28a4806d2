"""Nodes: enough of them that Prefect's pods can use, big enough, on a supported Kubernetes version."""

from __future__ import annotations

import pytest

from readiness.core.humanize import number, plural
from readiness.probes.kubernetes import kubelet_skew


def _size(value: float | None, unit: str) -> str:
    return f"{number(value)} {unit}" if value is not None else f"unknown {unit}"


@pytest.mark.requirement("K8S-NODE-COUNT")
def test_enough_nodes_can_run_prefect_pods(nodes, expect, params):
    usable, excluded = len(nodes.ready_nodes), len(nodes.excluded)
    expect.at_least(
        "nodes Prefect's pods can use (Ready, schedulable, not control-plane, no untolerated taint)",
        usable,
        params["min"],
        unit="nodes",
        evidence=nodes.evidence(),
        observed_text=f"{plural(usable, 'usable node')} of {plural(len(nodes.all), 'node')}"
        + (f" ({excluded} not Ready, cordoned, control-plane or tainted)" if excluded else ""),
        expected_text=f"at least {plural(params['min'], 'node')} Prefect's pods can use (Ready, schedulable, "
        "not control-plane, no untolerated taint)",
    )


@pytest.mark.requirement("K8S-NODE-SIZE")
def test_every_usable_node_group_is_big_enough(nodes, expect, params, profile):
    catalog = profile.catalog.get("instance_types", {})
    small, sizes, big = [], [], 0
    for group in nodes.groups:
        # The catalog's nominal size where the type is known (capacity is a little under it: the
        # kernel's reservation), the node's reported capacity otherwise.
        nominal = catalog.get(group.instance_type or "", {})
        vcpu = nominal.get("vcpu", group.vcpu)
        memory = nominal.get("memory_gib", group.memory_gib)
        sizes.append(f"{group.nodes} × {group.instance_type or group.name} ({_size(vcpu, 'vCPU')}, "
                     f"{_size(memory, 'GiB')})")  # fmt: skip
        if vcpu is None or memory is None or vcpu < params["min_vcpu"] or memory < params["min_memory_gib"]:
            small.append(group.describe() + (" [catalog]" if nominal else " [capacity]"))
        else:
            big += group.nodes
    usable = sum(g.nodes for g in nodes.groups)
    expect.true(
        f"usable node groups smaller than {params['min_vcpu']} vCPU / {params['min_memory_gib']} GiB",
        not small and bool(nodes.groups),
        observed=small or ("no usable nodes" if not nodes.groups else "none"),
        expected="none",
        observed_text=f"{big} of {plural(usable, 'usable node')} have at least {params['min_vcpu']} vCPU and "
        f"{params['min_memory_gib']} GiB: {'; '.join(sizes)}"
        if nodes.groups
        else "no usable node (Ready, schedulable, not control-plane, no untolerated taint)",
        expected_text=f"every usable node: ≥ {params['min_vcpu']} vCPU and ≥ {params['min_memory_gib']} GiB",
        evidence={
            **nodes.evidence(),
            "catalog": {g.instance_type: catalog.get(g.instance_type or "") for g in nodes.groups},
        },
    )


@pytest.mark.requirement("K8S-VERSION")
def test_kubernetes_version_is_supported(server_version, nodes, expect, params):
    evidence = {"server": server_version.git_version, "kubelets": nodes.kubelet_versions,
                "node_groups": nodes.node_groups()}  # fmt: skip
    expect.version_at_least("API server version", server_version.git_version, params["min"], evidence=evidence)
    skew, ahead = kubelet_skew(server_version, nodes)
    expect.true("kubelets newer than the API server", not ahead, observed=ahead or "none", expected="none",
                evidence=evidence)  # fmt: skip
    kubelets = ", ".join(f"{count} × {version}" for version, count in nodes.kubelet_versions.items())
    expect.at_most("kubelet minor versions behind the API server", skew, params["max_kubelet_skew"],
                   unit="minor versions", evidence=evidence,
                   observed_text=f"API server {server_version.git_version}; kubelets {kubelets}: "
                   f"{plural(skew or 0, 'minor version')} behind at most, none ahead",
                   expected_text=f"API server at least {params['min']}; kubelets at most "
                   f"{plural(params['max_kubelet_skew'], 'minor version')} behind it, none ahead")  # fmt: skip
