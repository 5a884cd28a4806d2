"""The edge: IngressClasses, ingress controllers, Ingresses/Gateways/HTTPRoutes and LoadBalancer Services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from readiness.probes.gateway_api import GROUP, VERSION, GatewayApiEdge
from readiness.probes.kubernetes.reader import KubeReader, Obj
from readiness.probes.kubernetes.workloads import Workload, read_workloads

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
    #: Prefect's HTTPRoutes, the Gateways they name and their GatewayClasses (empty without Gateway API CRDs)
    gateway_api: GatewayApiEdge = field(default_factory=GatewayApiEdge)

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

    @property
    def prefect_ingresses(self) -> list[Exposure]:
        return [e for e in self.exposures if e.kind == "Ingress"]

    @property
    def gateway_addresses(self) -> list[str]:
        """The addresses of the Gateways Prefect's HTTPRoutes attach to, one line per Gateway that has one."""
        return [
            f"Gateway {g.ref} (Gateway API, class {g.class_name}): {', '.join(g.addresses)}"
            for g in self.gateway_api.prefect_gateways
            if g.addresses
        ]

    def evidence(self) -> dict[str, Any]:
        out = {
            "namespace": self.namespace,
            "ingress_classes": [vars(c) for c in self.classes],
            "controllers": [f"{w.describe()} -> {self.controller_name(w)}" for w in self.controllers],
            "prefect_exposure": [e.describe() for e in self.exposures],
            "load_balancers": [lb.describe() for lb in self.load_balancers],
        }
        if self.gateway_api.routes:
            out["gateway_api"] = self.gateway_api.evidence()
        return out


def _lb_layer(service: Obj) -> tuple[str, str]:
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    aws_type = annotations.get("service.beta.kubernetes.io/aws-load-balancer-type")
    if aws_type:
        return "L4", f"aws-load-balancer-type={aws_type}"
    if any("azure-load-balancer" in a for a in annotations):
        return "L4", "Azure Load Balancer"
    return "L4", "Service type LoadBalancer"


def _addresses(obj: Obj) -> tuple[str, ...]:
    entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return tuple(e.get("ip") or e.get("hostname") or "" for e in entries if e.get("ip") or e.get("hostname"))


def read_ingress(reader: KubeReader, ingress_namespace: str, prefect_namespace: str) -> Ingress:
    classes = []
    for o in reader.pages("/apis/networking.k8s.io/v1/ingressclasses", what="IngressClasses"):
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
        for w in read_workloads(reader, ingress_namespace, with_pods=False)
        if controller_of(w) or w.labels.get("app.kubernetes.io/component") == "controller"
    ]
    exposures = []
    for o in reader.pages(f"/apis/networking.k8s.io/v1/namespaces/{prefect_namespace}/ingresses",
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
    for o in reader.pages(f"/apis/networking.istio.io/v1/namespaces/{prefect_namespace}/gateways",
                          what=f"Istio Gateways in namespace {prefect_namespace}", missing_ok=True):  # fmt: skip
        exposures.append(Exposure("Istio Gateway", prefect_namespace, o["metadata"]["name"], None, ()))
    edge = read_gateway_api(reader, prefect_namespace)
    for route in edge.routes:
        exposures.append(Exposure("HTTPRoute", prefect_namespace, route.name, None, ()))
    balancers = []
    for o in reader.pages(f"/api/v1/namespaces/{ingress_namespace}/services",
                          what=f"Services in namespace {ingress_namespace}"):  # fmt: skip
        if (o.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        layer, how = _lb_layer(o)
        balancers.append(LoadBalancer(ingress_namespace, o["metadata"]["name"], _addresses(o), layer, how))
    return Ingress(ingress_namespace, classes, controllers, exposures, balancers, edge)


def read_gateway_api(reader: KubeReader, prefect_namespace: str) -> GatewayApiEdge:
    """Prefect's HTTPRoutes and, when there are any, the Gateways and GatewayClasses (nothing without the CRDs)."""
    base = f"/apis/{GROUP}/{VERSION}"
    routes = list(reader.pages(f"{base}/namespaces/{prefect_namespace}/httproutes",
                               what=f"HTTPRoutes in namespace {prefect_namespace}", missing_ok=True))  # fmt: skip
    if not routes:
        return GatewayApiEdge()
    # Gateways often live in a namespace of their own (the chart's default is the release's): read them all.
    gateways = list(reader.pages(f"{base}/gateways", what="Gateways", missing_ok=True))
    classes = list(reader.pages(f"{base}/gatewayclasses", what="GatewayClasses", missing_ok=True))
    return GatewayApiEdge.parse(classes, gateways, routes)
