"""Fixtures of the mesh suite: the Istio objects around Prefect, read through the Kubernetes API of the
targets (kubernetes.kubeconfig / context, kubernetes.namespace, kubernetes.mesh_namespace)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from readiness.probes.mesh import Mesh
from readiness.targets import Targets
from readiness.targets.kube import api_client


@pytest.fixture
def mesh(targets: Targets, probe_timeout: float) -> Iterator[Mesh]:
    api = api_client(targets, timeout=probe_timeout)
    try:
        yield Mesh(
            api,
            namespace=str(targets.get("kubernetes.namespace") or "prefect"),
            mesh_namespace=str(targets.get("kubernetes.mesh_namespace") or "istio-system"),
            timeout=probe_timeout,
        )
    finally:
        api.close()


@pytest.fixture
def mesh_evidence(targets: Targets) -> dict[str, object]:
    return {"targets": targets.evidence("kubernetes.namespace", "kubernetes.mesh_namespace", "kubernetes.context")}
