"""Fixtures of the Kubernetes suite: one read-only view of the cluster the targets point at.

What is read once serves every check of the run (the node list of a 5,000-node cluster is read once,
not once per check); a read that failed fails again for each check that needs it, with its cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from kubernetes.client import ApiClient

from readiness.core.expect import CheckError
from readiness.probes.kubernetes import Cluster, Nodes, PrefectWorkloads, ServerVersion
from readiness.targets import Targets
from readiness.targets.kube import api_client

T = TypeVar("T")

#: pod labels of the prefect-helm charts' workloads (server, worker, background services)
DEFAULT_WORKLOAD_SELECTOR = "app.kubernetes.io/name in (prefect-server,prefect-worker,prefect-background-services)"


class ClusterView:
    """The cluster probe plus a memo of what several checks read (first outcome kept, error included)."""

    def __init__(self, targets: Targets, timeout: float) -> None:
        self.targets = targets
        self.timeout = timeout
        self._memo: dict[str, tuple[bool, Any]] = {}
        self._cluster: Cluster | None = None
        self._api: ApiClient | None = None

    @property
    def prefect_namespace(self) -> str:
        return str(self.targets.get("kubernetes.namespace", "prefect"))

    @property
    def ingress_namespace(self) -> str:
        return str(self.targets.get("kubernetes.ingress_namespace", "ingress-nginx"))

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._api = api_client(self.targets, self.timeout)
            self._cluster = Cluster(self._api, self.timeout)
        return self._cluster

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            try:
                self._memo[key] = (True, compute())
            except CheckError as exc:
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise CheckError(str(value))
        return value

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


@pytest.fixture(scope="session")
def kube(targets: Targets, profile) -> Iterator[ClusterView]:
    view = ClusterView(targets, timeout=min(10.0, profile.settings.default_timeout / 3))
    try:
        yield view
    finally:
        view.close()


def workload_selector(profile) -> str:
    params = profile.requirements["PREFECT-WORKLOADS"].params if "PREFECT-WORKLOADS" in profile.requirements else {}
    return str(params.get("selector") or DEFAULT_WORKLOAD_SELECTOR)


@pytest.fixture
def prefect_workloads(kube: ClusterView, profile) -> PrefectWorkloads:
    selector = workload_selector(profile)
    return kube.memo("prefect-workloads", lambda: kube.cluster.prefect_workloads(kube.prefect_namespace, selector))


@pytest.fixture
def nodes(kube: ClusterView, profile) -> Nodes:
    """Every node, judged against the tolerations of Prefect's pods (none known: no taint tolerated)."""

    def read() -> Nodes:
        selector = workload_selector(profile)
        workloads = kube.memo(
            "prefect-workloads", lambda: kube.cluster.prefect_workloads(kube.prefect_namespace, selector)
        )
        return kube.cluster.nodes(workloads.tolerations)

    return kube.memo("nodes", read)


@pytest.fixture
def server_version(kube: ClusterView) -> ServerVersion:
    return kube.memo("version", kube.cluster.version)
