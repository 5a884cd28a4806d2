"""Deployments, StatefulSets and DaemonSets with their pods; the Prefect workloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from readiness.probes.kubernetes.nodes import Toleration
from readiness.probes.kubernetes.reader import WAITING_FAULTS, WORKLOAD_KINDS, KubeReader, Obj, _true

#: app.kubernetes.io/component of the prefect-helm charts' workloads -> the part of Prefect it runs, in the order a
#: report lists them (the server chart's server and background services, the worker chart's worker)
CHART_ROLES = {"server": "server", "background-services": "background services", "worker": "worker"}


# -- workloads and pods --------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerState:
    pod: str
    name: str
    ready: bool
    restarts: int
    waiting_reason: str | None


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    phase: str
    ready: bool
    node: str | None
    containers: tuple[ContainerState, ...]
    deleting: bool
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Pod:
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        name = meta.get("name", "?")
        containers = tuple(
            ContainerState(
                pod=name,
                name=cs.get("name", "?"),
                ready=bool(cs.get("ready")),
                restarts=int(cs.get("restartCount") or 0),
                waiting_reason=((cs.get("state") or {}).get("waiting") or {}).get("reason"),
            )
            for cs in status.get("containerStatuses") or []
        )
        return cls(
            namespace=meta.get("namespace", ""),
            name=name,
            phase=status.get("phase") or "Pending",
            ready=_true(status.get("conditions"), "Ready"),
            node=spec.get("nodeName"),
            containers=containers,
            deleting=bool(meta.get("deletionTimestamp")),
            labels=meta.get("labels") or {},
        )


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet or DaemonSet with the pods its selector matches."""

    kind: str
    namespace: str
    name: str
    desired: int
    ready: int
    available: int
    available_condition: bool | None
    selector: str
    labels: Mapping[str, str]
    images: tuple[str, ...]
    args: tuple[str, ...]
    tolerations: tuple[Toleration, ...]
    containers_without_requests: tuple[str, ...]
    pods: tuple[Pod, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def role(self) -> str:
        """The part of Prefect this workload runs, from its chart labels (app.kubernetes.io/component): `server`,
        `background services`, `worker`; the component label itself, or the name, for another workload."""
        component = self.labels.get("app.kubernetes.io/component")
        return CHART_ROLES.get(component or "", component or self.name)

    @property
    def chart_release(self) -> str | None:
        """`chart/release` from the chart labels (app.kubernetes.io/name and instance), None without them."""
        name, instance = self.labels.get("app.kubernetes.io/name"), self.labels.get("app.kubernetes.io/instance")
        return f"{name}/{instance}" if name and instance else None

    @property
    def is_available(self) -> bool:
        if self.desired == 0:
            return False
        at_desired = self.available >= self.desired and self.ready >= self.desired
        return at_desired and self.available_condition is not False

    def describe(self) -> str:
        return f"{self.ref}: {self.available}/{self.desired} available, {self.ready} ready"

    @classmethod
    def parse(cls, obj: Obj) -> Workload:
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        kind = obj.get("kind") or "Deployment"
        template = (spec.get("template") or {}).get("spec") or {}
        containers = template.get("containers") or []
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        if kind == "DaemonSet":
            desired = int(status.get("desiredNumberScheduled") or 0)
            ready = int(status.get("numberReady") or 0)
            available = int(status.get("numberAvailable") or 0)
        else:
            desired = int(spec.get("replicas", 1))
            ready = int(status.get("readyReplicas") or 0)
            available = int(status.get("availableReplicas") or 0) if kind == "Deployment" else ready
        conditions = status.get("conditions") or []
        available_condition = None
        for c in conditions:
            if c.get("type") == "Available":
                available_condition = c.get("status") == "True"
        without = tuple(
            c.get("name", "?")
            for c in containers
            if not {"cpu", "memory"} <= set(((c.get("resources") or {}).get("requests") or {}).keys())
        )
        return cls(
            kind=kind,
            namespace=meta.get("namespace", ""),
            name=meta.get("name", "?"),
            desired=desired,
            ready=ready,
            available=available,
            available_condition=available_condition,
            selector=",".join(f"{k}={v}" for k, v in sorted(match.items())),
            labels=meta.get("labels") or {},
            images=tuple(c.get("image", "") for c in containers),
            args=tuple(a for c in containers for a in [*(c.get("command") or []), *(c.get("args") or [])]),
            tolerations=tuple(Toleration.parse(t) for t in template.get("tolerations") or []),
            containers_without_requests=without,
        )


@dataclass
class PrefectWorkloads:
    namespace: str
    selector: str
    workloads: list[Workload]

    @property
    def unavailable(self) -> list[str]:
        return [w.describe() for w in self.workloads if not w.is_available]

    @property
    def by_role(self) -> list[Workload]:
        """The workloads in the order a reader expects: server, background services, worker, then any other."""
        order = {role: i for i, role in enumerate(CHART_ROLES.values())}
        return sorted(self.workloads, key=lambda w: (order.get(w.role, len(order)), w.role, w.name))

    def readiness_sentence(self) -> str:
        """Each workload by its role and name with ready/desired: `server prefect-server 1/1 ready, ...`."""
        return ", ".join(f"{w.role} {w.name} {w.ready}/{w.desired} ready" for w in self.by_role)

    @property
    def _containers(self) -> list[tuple[Workload, ContainerState]]:
        return [(w, c) for w in self.workloads for p in w.pods if not p.deleting for c in p.containers]

    @property
    def failing_containers(self) -> list[str]:
        """Containers waiting in CrashLoopBackOff, ImagePullBackOff and the like."""
        return [
            f"{c.pod}/{c.name}: {c.waiting_reason}" for _, c in self._containers if c.waiting_reason in WAITING_FAULTS
        ]

    @property
    def pending_pods(self) -> list[str]:
        return [f"{p.namespace}/{p.name}" for w in self.workloads for p in w.pods if p.phase == "Pending"]

    @property
    def most_restarted(self) -> ContainerState | None:
        containers = [c for _, c in self._containers]
        return max(containers, key=lambda c: c.restarts) if containers else None

    @property
    def containers_without_requests(self) -> list[str]:
        return [f"{w.ref}: {name}" for w in self.workloads for name in w.containers_without_requests]

    @property
    def tolerations(self) -> tuple[Toleration, ...]:
        """Tolerations every Prefect pod template has (a node must suit all of them)."""
        if not self.workloads:
            return ()
        common = set(self.workloads[0].tolerations)
        for w in self.workloads[1:]:
            common &= set(w.tolerations)
        return tuple(sorted(common, key=str))

    def evidence(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "selector": self.selector,
            "workloads": [w.describe() for w in self.workloads],
            "roles": {w.ref: f"{w.role} ({w.chart_release or 'no chart labels'})" for w in self.by_role},
            "pods": sum(len(w.pods) for w in self.workloads),
        }


def _with_pods(workload: Workload, pods: list[Pod]) -> Workload:
    """The workload with the pods its own matchLabels select."""
    wanted = dict(pair.split("=", 1) for pair in workload.selector.split(",") if pair)
    mine = tuple(p for p in pods if wanted and all(p.labels.get(k) == v for k, v in wanted.items()))
    return replace(workload, pods=mine)


def read_pods(reader: KubeReader, namespace: str, selector: str | None = None) -> list[Pod]:
    query = [("labelSelector", selector)] if selector else []
    return [Pod.parse(o) for o in reader.pages(f"/api/v1/namespaces/{namespace}/pods", query,
                                               what=f"pods in namespace {namespace}")]  # fmt: skip


def read_workloads(
    reader: KubeReader, namespace: str, selector: str | None = None, with_pods: bool = True
) -> list[Workload]:
    query = [("labelSelector", selector)] if selector else []
    found: list[Workload] = []
    for kind, plural in WORKLOAD_KINDS:
        for obj in reader.pages(f"/apis/apps/v1/namespaces/{namespace}/{plural}", query,
                                what=f"{plural} in namespace {namespace}"):  # fmt: skip
            obj.setdefault("kind", kind)
            found.append(Workload.parse(obj))
    if not with_pods or not found:
        return found
    pods = read_pods(reader, namespace, selector)
    return [_with_pods(w, pods) for w in found]
