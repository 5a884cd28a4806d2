"""Prefect's own workloads: Available at their desired replicas, not crash-looping, with requests set.

They are found by the prefect-helm charts' labels (the profile's selector on app.kubernetes.io/name), whatever their
names, and each is named by the part it runs (app.kubernetes.io/component: server, background-services, worker)."""

from __future__ import annotations

import pytest

from readiness.core.humanize import plural


@pytest.mark.requirement("PREFECT-WORKLOADS")
def test_prefect_workloads_are_available_and_stable(prefect_workloads, expect, params):
    evidence = prefect_workloads.evidence()
    expect.at_least(
        f"Prefect Deployments/StatefulSets in namespace {prefect_workloads.namespace}",
        len(prefect_workloads.workloads),
        1,
        evidence=evidence,
    )
    expect.equal("containers waiting in CrashLoopBackOff/ImagePullBackOff", prefect_workloads.failing_containers, [],
                 evidence=evidence)  # fmt: skip
    expect.equal("workloads not Available at their desired replicas", prefect_workloads.unavailable, [],
                 evidence=evidence)  # fmt: skip
    expect.equal("Pending pods", prefect_workloads.pending_pods, [], evidence=evidence)
    expect.equal("containers without CPU and memory requests", prefect_workloads.containers_without_requests, [],
                 evidence=evidence)  # fmt: skip
    # Last, so a pass reads as the whole picture: each workload's readiness and the restarts.
    worst = prefect_workloads.most_restarted
    restarts = worst.restarts if worst else 0
    ready = prefect_workloads.readiness_sentence()
    expect.at_most(
        "highest container restart count" + (f" ({worst.pod}/{worst.name})" if worst else ""),
        restarts,
        params["max_restarts"],
        unit="restarts",
        evidence=evidence,
        observed_text=f"{ready}; {plural(restarts, 'restart')} at most per container"
        + (f" ({worst.pod}/{worst.name})" if worst and restarts else "")
        + "; none Pending, crash-looping or without requests",
        expected_text=f"every Prefect workload Available at its desired replicas; at most {params['max_restarts']} "
        "restarts per container; no Pending pod, crash loop or container without CPU and memory requests",
    )
