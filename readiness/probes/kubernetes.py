"""The Kubernetes probe: a read-only view of a cluster as typed observations.

Every read is a plain GET through the `kubernetes` client's ApiClient (its kubeconfig handling, auth
plugins and TLS), parsed as JSON into small dataclasses: no typed client models, so 5,000 nodes cost
one page of JSON at a time. Lists are paginated (limit + continue); pods are read only in the
namespaces a check names, never cluster-wide. Transport and API failures become CheckError with one
line a person can act on.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import urllib3
import yaml
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from readiness.expect import CheckError, parse_version

Obj = dict[str, Any]
GIB = Decimal(1024**3)
PAGE = 500

#: labels that name a node's managed node group, per provider (first match wins)
NODE_GROUP_LABELS = (
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool",
    "alpha.eksctl.io/nodegroup-name",
)
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
WORKLOAD_KINDS = (("Deployment", "deployments"), ("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets"))
WAITING_FAULTS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"}
)


# -- talking to the API server -------------------------------------------------------------------
def _server(api: ApiClient) -> str:
    return str(getattr(api.configuration, "host", "") or "the Kubernetes API server")


def describe_api_error(exc: ApiException, server: str, what: str) -> str:
    """One line for an API error answer (401, 403, ...)."""
    message = ""
    try:
        message = str(json.loads(exc.body or "{}").get("message", ""))
    except (ValueError, AttributeError):
        message = str(exc.body or "")[:200]
    if exc.status == 401:
        return (
            f"the API server {server} refused the credentials (401 Unauthorized) while reading {what}: the token or "
            "client certificate of the kubeconfig is expired or wrong; refresh it (e.g. `aws eks update-kubeconfig`, "
            "`gcloud container clusters get-credentials`, `az aks get-credentials`)"
        )
    if exc.status == 403:
        return (
            f"forbidden to read {what} at {server}: {message or exc.reason}; "
            "grant the read-only ClusterRole in deploy/rbac/ to the identity the suite runs as"
        )
    return f"reading {what} from {server} failed: {exc.status} {exc.reason}{': ' + message if message else ''}"


def describe_transport_error(exc: Exception, server: str, timeout: float) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text:
        return f"connection to the API server {server} refused (nothing listening?)"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError) or "Read timed out" in text:
        return f"the API server {server} accepted the connection but did not answer within {timeout:g} s"
    # (urllib3's NewConnectionError is a ConnectTimeoutError subclass: look at the words too)
    if "timed out" in text:
        return f"connecting to the API server {server} timed out after {timeout:g} s"
    if isinstance(reason, urllib3.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS with the API server {server} failed: {text}"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"cannot resolve the API server host of {server}: {text}"
    return f"cannot reach the API server {server}: {text}"


class KubeReader:
    """GETs JSON from one cluster with a per-request timeout; the only place that touches the wire."""

    def __init__(self, api: ApiClient, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout
        self.server = _server(api)

    def get(self, path: str, query: Sequence[tuple[str, Any]] = (), *, what: str, missing_ok: bool = False) -> Obj:
        """GET `path`; {} for a 404 when `missing_ok` (a kind or object that is not there)."""
        try:
            data = self._call(path, list(query))
        except ApiException as exc:
            if exc.status == 404 and missing_ok:
                return {}
            if exc.status == 0 or exc.status is None:  # the client wraps TLS failures as status 0
                raise CheckError(describe_transport_error(exc, self.server, self.timeout)) from None
            raise CheckError(describe_api_error(exc, self.server, what)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise CheckError(describe_transport_error(exc, self.server, self.timeout)) from None
        return data

    def pages(
        self, path: str, query: Sequence[tuple[str, Any]] = (), *, what: str, missing_ok: bool = False
    ) -> Iterator[Obj]:
        """Every item of a list, PAGE at a time (limit + continue); nothing when the kind is not served."""
        cont: str | None = None
        while True:
            params = [*query, ("limit", PAGE)] + ([("continue", cont)] if cont else [])
            page = self.get(path, params, what=what, missing_ok=missing_ok)
            yield from page.get("items") or []
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return

    def _call(self, path: str, query: list[tuple[str, Any]]) -> Obj:
        headers = {"Accept": "application/json"}
        if hasattr(self.api, "param_serialize"):  # kubernetes >= 35 (new generator)
            method, url, headers, body, _ = self.api.param_serialize(
                "GET", path, query_params=query, header_params=headers, auth_settings=["BearerToken"]
            )
            response = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=self.timeout)
            data = response.read()
            if not 200 <= response.status <= 299:
                raise ApiException.from_response(http_resp=response, body=data.decode(errors="replace"), data=None)
        else:  # older clients
            response = self.api.call_api(
                path,
                "GET",
                query_params=query,
                header_params=headers,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=self.timeout,
            )
            data = response.data
        return json.loads(data) if data else {}


# -- small value helpers -------------------------------------------------------------------------
def _quantity(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(parse_quantity(str(value)))
    except (ValueError, ArithmeticError):
        return None


def _vcpu(value: Any) -> float | None:
    q = _quantity(value)
    return None if q is None else float(round(q, 3))


def _gib(value: Any) -> float | None:
    q = _quantity(value)
    return None if q is None else float(round(q / GIB, 2))


def _true(conditions: Iterable[Obj] | None, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions or [])


def _minor(version: str | None) -> tuple[int, int] | None:
    if not version:
        return None
    try:
        parts = parse_version(version)
    except CheckError:
        return None
    return (parts[0], parts[1]) if len(parts) >= 2 else None


# -- nodes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


@dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Toleration:
        return cls(data.get("key"), data.get("operator") or "Equal", data.get("value"), data.get("effect"))

    def tolerates(self, taint: Taint) -> bool:
        """The scheduler's rule (k8s.io/api/core/v1 Toleration.ToleratesTaint)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return bool(self.key) and (self.value or "") == (taint.value or "")


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool
    unschedulable: bool
    control_plane: bool
    taints: tuple[Taint, ...]
    vcpu: float | None
    memory_gib: float | None
    allocatable_vcpu: float | None
    allocatable_memory_gib: float | None
    instance_type: str | None
    node_group: str | None
    node_group_label: str | None
    kubelet_version: str | None

    @classmethod
    def parse(cls, obj: Obj) -> Node:
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        labels = meta.get("labels") or {}
        capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
        group_label = next((label for label in NODE_GROUP_LABELS if labels.get(label)), None)
        return cls(
            name=meta.get("name", "?"),
            ready=_true(status.get("conditions"), "Ready"),
            unschedulable=bool(spec.get("unschedulable")),
            control_plane=any(label in labels for label in CONTROL_PLANE_LABELS),
            taints=tuple(
                Taint(t.get("key", ""), t.get("value"), t.get("effect", "")) for t in spec.get("taints") or []
            ),
            vcpu=_vcpu(capacity.get("cpu")),
            memory_gib=_gib(capacity.get("memory")),
            allocatable_vcpu=_vcpu(allocatable.get("cpu")),
            allocatable_memory_gib=_gib(allocatable.get("memory")),
            instance_type=next((labels[k] for k in INSTANCE_TYPE_LABELS if labels.get(k)), None),
            node_group=labels.get(group_label) if group_label else None,
            node_group_label=group_label,
            kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
        )

    def blocking_taints(self, tolerations: Sequence[Toleration]) -> list[Taint]:
        return [
            t
            for t in self.taints
            if t.effect in ("NoSchedule", "NoExecute") and not any(tol.tolerates(t) for tol in tolerations)
        ]

    def unusable_because(self, tolerations: Sequence[Toleration] = ()) -> str | None:
        """Why Prefect's pods cannot land here, or None when they can."""
        if not self.ready:
            return "NotReady"
        if self.unschedulable:
            return "cordoned (unschedulable)"
        if self.control_plane:
            return "control-plane node"
        blocking = self.blocking_taints(tolerations)
        if blocking:
            return "tainted " + ", ".join(map(str, blocking))
        return None


@dataclass(frozen=True)
class NodeGroup:
    """Usable nodes that share a node group (or, without one, an instance type and size)."""

    name: str
    instance_type: str | None
    vcpu: float | None
    memory_gib: float | None
    nodes: int

    def describe(self) -> str:
        kind = self.instance_type or "unknown instance type"
        return f"{self.name} ({kind}, {self.vcpu:g} vCPU / {self.memory_gib:g} GiB, {self.nodes} node(s))"


@dataclass
class Nodes:
    """The cluster's nodes, judged against the tolerations of Prefect's pods."""

    all: list[Node]
    tolerations: tuple[Toleration, ...] = ()

    @property
    def ready_nodes(self) -> list[Node]:
        """Nodes Prefect's pods can use: Ready, schedulable, not control-plane, no untolerated taint."""
        return [n for n in self.all if n.unusable_because(self.tolerations) is None]

    @property
    def excluded(self) -> dict[str, str]:
        out = {}
        for node in self.all:
            reason = node.unusable_because(self.tolerations)
            if reason:
                out[node.name] = reason
        return out

    @property
    def groups(self) -> list[NodeGroup]:
        buckets: dict[tuple[str, str | None, float | None, float | None], int] = Counter()
        for n in self.ready_nodes:
            name = n.node_group or n.instance_type or "ungrouped"
            buckets[(name, n.instance_type, n.vcpu, n.memory_gib)] += 1
        return [NodeGroup(name, itype, cpu, mem, count) for (name, itype, cpu, mem), count in sorted(buckets.items())]

    @property
    def kubelet_versions(self) -> dict[str, int]:
        return dict(Counter(n.kubelet_version or "unknown" for n in self.all))

    def evidence(self, limit: int = 20) -> dict[str, Any]:
        excluded = self.excluded
        return {
            "nodes_total": len(self.all),
            "nodes_usable": len(self.all) - len(excluded),
            "excluded": dict(list(excluded.items())[:limit]),
            "excluded_more": max(0, len(excluded) - limit),
            "groups": [g.describe() for g in self.groups[:limit]],
            "prefect_tolerations": [vars(t) for t in self.tolerations],
        }


# -- storage ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageClass:
    name: str
    provisioner: str
    default: bool
    allows_expansion: bool
    binding_mode: str
    reclaim_policy: str

    @classmethod
    def parse(cls, obj: Obj) -> StorageClass:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return cls(
            name=obj["metadata"]["name"],
            provisioner=obj.get("provisioner", ""),
            default=any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS),
            allows_expansion=bool(obj.get("allowVolumeExpansion")),
            binding_mode=obj.get("volumeBindingMode") or "Immediate",
            reclaim_policy=obj.get("reclaimPolicy") or "Delete",
        )


@dataclass
class Storage:
    classes: list[StorageClass]
    csi_drivers: list[str]

    @property
    def defaults(self) -> list[StorageClass]:
        return [c for c in self.classes if c.default]

    @property
    def default(self) -> StorageClass | None:
        return self.defaults[0] if self.defaults else None

    def evidence(self) -> dict[str, Any]:
        return {"storage_classes": [vars(c) for c in self.classes], "csi_drivers": self.csi_drivers}


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
            "pods": sum(len(w.pods) for w in self.workloads),
        }


# -- ingress and load balancer -------------------------------------------------------------------
#: image fragment -> IngressClass controller, for controllers that do not name their class in args
KNOWN_CONTROLLER_IMAGES = {
    "ingress-nginx/controller": "k8s.io/ingress-nginx",
    "traefik": "traefik.io/ingress-controller",
    "kong/kubernetes-ingress-controller": "ingress-controllers.konghq.com/kong",
    "nginx/nginx-ingress": "nginx.org/ingress-controller",
    "haproxytech/kubernetes-ingress": "haproxy.org/ingress-controller/haproxy",
    "aws-load-balancer-controller": "ingress.k8s.aws/alb",
    "contour": "projectcontour.io/ingress-controller",
}
#: IngressClass controllers whose load balancer works at L7 (a cloud HTTP(S) load balancer per Ingress)
L7_CONTROLLERS = frozenset({"ingress.k8s.aws/alb", "k8s.io/ingress-gce", "azure/application-gateway"})


def controller_of(workload: Workload) -> str | None:
    """The IngressClass controller a workload implements, from its args or its image."""
    for arg in workload.args:
        if arg.startswith("--controller-class="):
            return arg.split("=", 1)[1]
    for image in workload.images:
        for fragment, controller in KNOWN_CONTROLLER_IMAGES.items():
            if fragment in image:
                return controller
    return None


@dataclass(frozen=True)
class IngressClass:
    name: str
    controller: str
    default: bool


@dataclass(frozen=True)
class Exposure:
    """How Prefect is exposed: an Ingress (with its class), an Istio Gateway or a Gateway API HTTPRoute."""

    kind: str
    namespace: str
    name: str
    ingress_class: str | None
    addresses: tuple[str, ...]

    def describe(self) -> str:
        via = f" (class {self.ingress_class})" if self.ingress_class else ""
        return f"{self.kind} {self.namespace}/{self.name}{via}"


@dataclass(frozen=True)
class LoadBalancer:
    namespace: str
    name: str
    addresses: tuple[str, ...]
    layer: str
    how: str

    def describe(self) -> str:
        where = ", ".join(self.addresses) or "no address (pending)"
        return f"Service {self.namespace}/{self.name} ({self.layer}, {self.how}): {where}"


@dataclass
class Ingress:
    namespace: str
    classes: list[IngressClass]
    controllers: list[Workload]
    exposures: list[Exposure]
    load_balancers: list[LoadBalancer]

    def controller_name(self, workload: Workload) -> str:
        return controller_of(workload) or f"{workload.kind} {workload.name}"

    @property
    def running_controllers(self) -> list[Workload]:
        return [w for w in self.controllers if w.ready >= 1]

    @property
    def running_controller_classes(self) -> set[str]:
        return {c for w in self.running_controllers if (c := controller_of(w))}

    @property
    def served_classes(self) -> list[IngressClass]:
        """IngressClasses whose controller is running."""
        running = self.running_controller_classes
        return [c for c in self.classes if c.controller in running]

    @property
    def default_class(self) -> IngressClass | None:
        return next((c for c in self.classes if c.default), None)

    @property
    def prefect_routes(self) -> list[Exposure]:
        """Prefect's Ingresses served by a running controller, plus Istio Gateways and HTTPRoutes."""
        served = {c.name for c in self.served_classes}
        default = self.default_class.name if self.default_class else None
        out = []
        for e in self.exposures:
            if e.kind != "Ingress" or (e.ingress_class or default) in served:
                out.append(e)
        return out

    @property
    def l7_addresses(self) -> list[Exposure]:
        """Prefect Ingresses whose class is a cloud L7 load balancer and that have an address."""
        l7 = {c.name for c in self.classes if c.controller in L7_CONTROLLERS}
        return [e for e in self.exposures if e.kind == "Ingress" and e.ingress_class in l7 and e.addresses]

    def evidence(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "ingress_classes": [vars(c) for c in self.classes],
            "controllers": [f"{w.describe()} -> {self.controller_name(w)}" for w in self.controllers],
            "prefect_exposure": [e.describe() for e in self.exposures],
            "load_balancers": [lb.describe() for lb in self.load_balancers],
        }


def _lb_layer(service: Obj) -> tuple[str, str]:
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    aws_type = annotations.get("service.beta.kubernetes.io/aws-load-balancer-type")
    if aws_type:
        return "L4", f"aws-load-balancer-type={aws_type}"
    if any("azure-load-balancer" in a for a in annotations):
        return "L4", "Azure Load Balancer"
    return "L4", "Service type LoadBalancer"


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


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    platform: str

    @property
    def minor(self) -> tuple[int, int] | None:
        return _minor(self.git_version)


# -- the cluster ---------------------------------------------------------------------------------
class Cluster:
    """What the Kubernetes checks ask of a cluster, one method per question."""

    def __init__(self, api: ApiClient, timeout: float = 10.0) -> None:
        self.reader = KubeReader(api, timeout)
        self.server = self.reader.server

    # version
    def version(self) -> ServerVersion:
        data = self.reader.get("/version", what="the server version")
        return ServerVersion(str(data.get("gitVersion", "")), str(data.get("platform", "")))

    # nodes
    def nodes(self, tolerations: Sequence[Toleration] = ()) -> Nodes:
        return Nodes([Node.parse(n) for n in self.reader.pages("/api/v1/nodes", what="nodes")], tuple(tolerations))

    # storage
    def storage(self) -> Storage:
        classes = [StorageClass.parse(o) for o in self.reader.pages("/apis/storage.k8s.io/v1/storageclasses",
                                                                     what="StorageClasses")]  # fmt: skip
        drivers = [o["metadata"]["name"] for o in self.reader.pages("/apis/storage.k8s.io/v1/csidrivers",
                                                                     what="CSIDrivers")]  # fmt: skip
        return Storage(classes, drivers)

    # workloads
    def workloads(self, namespace: str, selector: str | None = None, with_pods: bool = True) -> list[Workload]:
        query = [("labelSelector", selector)] if selector else []
        found: list[Workload] = []
        for kind, plural in (
            ("Deployment", "deployments"),
            ("StatefulSet", "statefulsets"),
            ("DaemonSet", "daemonsets"),
        ):
            for obj in self.reader.pages(f"/apis/apps/v1/namespaces/{namespace}/{plural}", query,
                                         what=f"{plural} in namespace {namespace}"):  # fmt: skip
                obj.setdefault("kind", kind)
                found.append(Workload.parse(obj))
        if not with_pods or not found:
            return found
        pods = self.pods(namespace, selector)
        return [_with_pods(w, pods) for w in found]

    def pods(self, namespace: str, selector: str | None = None) -> list[Pod]:
        query = [("labelSelector", selector)] if selector else []
        return [Pod.parse(o) for o in self.reader.pages(f"/api/v1/namespaces/{namespace}/pods", query,
                                                        what=f"pods in namespace {namespace}")]  # fmt: skip

    def prefect_workloads(self, namespace: str, selector: str) -> PrefectWorkloads:
        return PrefectWorkloads(namespace, selector, self.workloads(namespace, selector))

    # ingress
    def ingress(self, ingress_namespace: str, prefect_namespace: str) -> Ingress:
        classes = []
        for o in self.reader.pages("/apis/networking.k8s.io/v1/ingressclasses", what="IngressClasses"):
            annotations = o["metadata"].get("annotations") or {}
            classes.append(
                IngressClass(
                    name=o["metadata"]["name"],
                    controller=(o.get("spec") or {}).get("controller", ""),
                    default=annotations.get("ingressclass.kubernetes.io/is-default-class") == "true",
                )
            )
        controllers = [
            w
            for w in self.workloads(ingress_namespace, with_pods=False)
            if controller_of(w) or w.labels.get("app.kubernetes.io/component") == "controller"
        ]
        exposures = []
        for o in self.reader.pages(f"/apis/networking.k8s.io/v1/namespaces/{prefect_namespace}/ingresses",
                                   what=f"Ingresses in namespace {prefect_namespace}"):  # fmt: skip
            exposures.append(
                Exposure(
                    "Ingress",
                    prefect_namespace,
                    o["metadata"]["name"],
                    (o.get("spec") or {}).get("ingressClassName"),
                    _addresses(o),
                )  # fmt: skip
            )
        for kind, path in (
            ("Istio Gateway", f"/apis/networking.istio.io/v1/namespaces/{prefect_namespace}/gateways"),
            ("HTTPRoute", f"/apis/gateway.networking.k8s.io/v1/namespaces/{prefect_namespace}/httproutes"),
        ):
            for o in self.reader.pages(path, what=f"{kind}s in namespace {prefect_namespace}", missing_ok=True):
                exposures.append(Exposure(kind, prefect_namespace, o["metadata"]["name"], None, ()))
        balancers = []
        for o in self.reader.pages(f"/api/v1/namespaces/{ingress_namespace}/services",
                                   what=f"Services in namespace {ingress_namespace}"):  # fmt: skip
            if (o.get("spec") or {}).get("type") != "LoadBalancer":
                continue
            layer, how = _lb_layer(o)
            balancers.append(LoadBalancer(ingress_namespace, o["metadata"]["name"], _addresses(o), layer, how))
        return Ingress(ingress_namespace, classes, controllers, exposures, balancers)

    # autoscaling
    def autoscaling(self, nodes: Nodes | None = None, namespace: str = "kube-system") -> Autoscaling:
        result = Autoscaling()
        for w in self.workloads(namespace, with_pods=False):
            name = w.labels.get("app.kubernetes.io/name", "") or w.name
            if "cluster-autoscaler" in name or any("cluster-autoscaler" in image for image in w.images):
                result.cluster_autoscaler = w
                break
        status = self.reader.get(f"/api/v1/namespaces/{namespace}/configmaps/cluster-autoscaler-status",
                                 what="the cluster-autoscaler-status ConfigMap", missing_ok=True)  # fmt: skip
        if status:
            result.status_configmap = f"{namespace}/cluster-autoscaler-status"
            result.autoscaler_groups = parse_autoscaler_status((status.get("data") or {}).get("status", ""))
        for o in self.reader.pages("/apis/karpenter.sh/v1/nodepools", what="Karpenter NodePools", missing_ok=True):
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


def _with_pods(workload: Workload, pods: list[Pod]) -> Workload:
    """The workload with the pods its own matchLabels select."""
    wanted = dict(pair.split("=", 1) for pair in workload.selector.split(",") if pair)
    mine = tuple(p for p in pods if wanted and all(p.labels.get(k) == v for k, v in wanted.items()))
    return replace(workload, pods=mine)


def _addresses(obj: Obj) -> tuple[str, ...]:
    entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return tuple(e.get("ip") or e.get("hostname") or "" for e in entries if e.get("ip") or e.get("hostname"))


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


def kubelet_skew(server: ServerVersion, nodes: Nodes) -> tuple[int, list[str]]:
    """Largest minor-version distance of a kubelet behind the API server, and the nodes ahead of it."""
    server_minor = server.minor
    if server_minor is None:
        return 0, []
    worst, ahead = 0, []
    for version, _count in nodes.kubelet_versions.items():
        minor = _minor(version)
        if minor is None:
            continue
        if minor > server_minor:
            ahead.append(version)
        elif minor[0] == server_minor[0]:
            worst = max(worst, server_minor[1] - minor[1])
    return worst, ahead
