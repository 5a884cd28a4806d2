"""The Istio mesh around Prefect, read through the Kubernetes API (CustomObjectsApi for Istio's objects).

The resolution rules live here as pure functions over plain objects (dicts as the API returns them),
so they are unit-tested on object sets built in code:

- mTLS: mesh-wide PeerAuthentication (root namespace, no selector), then the namespace's, then a
  workload-selecting one, then its port-level overrides; UNSET inherits; nothing at all is PERMISSIVE.
  DestinationRules whose TLS settings send something other than Istio mTLS to a Prefect host turn it
  off from the client side.
- Authorization: which AuthorizationPolicies apply to a workload, and whether one allows everything.
- Routing: Gateway hosts, VirtualService routes by host and URI prefix, and their destination Services.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from readiness.core.expect import CheckError, now_iso

Obj = dict[str, Any]
T = TypeVar("T")

SECURITY = "security.istio.io"
NETWORKING = "networking.istio.io"
#: plural -> group of the Istio kinds the suite reads
KINDS: dict[str, str] = {
    "peerauthentications": SECURITY,
    "authorizationpolicies": SECURITY,
    "requestauthentications": SECURITY,
    "destinationrules": NETWORKING,
    "virtualservices": NETWORKING,
    "gateways": NETWORKING,
}
API_VERSIONS = ("v1", "v1beta1")
SIDECAR = "istio-proxy"


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def ref(obj: Obj) -> str:
    meta = _meta(obj)
    return f"{obj.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '?')}"


def _created(obj: Obj) -> str:
    return str(_meta(obj).get("creationTimestamp") or "")


def _oldest(objs: Iterable[Obj]) -> Obj | None:
    # Istio: among conflicting policies of the same level, the oldest wins (then by name).
    ordered = sorted(objs, key=lambda o: (_created(o), _meta(o).get("name", "")))
    return ordered[0] if ordered else None


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


# -- mTLS ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str  # the Deployment's name
    labels: dict[str, str]  # of its pods
    ports: list[int]  # container ports of the application containers

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PortMode:
    workload: str
    port: int | None  # None: the workload as a whole (it declares no ports)
    mode: str  # STRICT | PERMISSIVE | DISABLE
    decided_by: str  # the object (and level) that made it so

    def __str__(self) -> str:
        where = f"{self.workload}:{self.port}" if self.port is not None else self.workload
        return f"{where} {self.mode} ({self.decided_by})"


def _mode(policy: Obj | None) -> str:
    return str((((policy or {}).get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET").upper()


def effective_mtls(workload: Workload, peer_authentications: list[Obj], root_namespace: str) -> list[PortMode]:
    """The mTLS mode each port of `workload` accepts, and the PeerAuthentication that decided it."""
    spec = lambda o: o.get("spec") or {}  # noqa: E731
    in_ns = lambda ns: [p for p in peer_authentications if _meta(p).get("namespace") == ns]  # noqa: E731
    mesh = _oldest(p for p in in_ns(root_namespace) if not spec(p).get("selector"))
    namespace = _oldest(p for p in in_ns(workload.namespace) if not spec(p).get("selector"))
    selecting = _oldest(p for p in in_ns(workload.namespace) if selects(spec(p).get("selector"), workload.labels))
    mode, decided = "PERMISSIVE", "no PeerAuthentication applies: Istio's default"
    for policy, level in ((mesh, "mesh-wide"), (namespace, "namespace"), (selecting, "workload")):
        if policy is not None and _mode(policy) != "UNSET":
            mode, decided = _mode(policy), f"{ref(policy)} ({level})"
    if not workload.ports:
        return [PortMode(str(workload), None, mode, decided)]
    port_level = (spec(selecting).get("portLevelMtls") or {}) if selecting is not None else {}
    out = []
    for port in workload.ports:
        override = port_level.get(str(port)) or port_level.get(port)  # type: ignore[call-overload]
        if override and str(override.get("mode") or "UNSET").upper() != "UNSET":
            out.append(PortMode(str(workload), port, str(override["mode"]).upper(), f"{ref(selecting)} (port {port})"))  # type: ignore[arg-type]
        else:
            out.append(PortMode(str(workload), port, mode, decided))
    return out


def host_matches(pattern: str, host: str, namespace: str) -> bool:
    """An Istio host (short name, ns-qualified, FQDN or wildcard) against a Service FQDN."""
    fqdn = host.lower()
    pattern = pattern.lower()
    if pattern in ("*", fqdn):
        return True
    if "." not in pattern:  # short name: relative to the object's namespace
        return f"{pattern}.{namespace}.svc.cluster.local" == fqdn
    if pattern.count(".") == 1 and not pattern.startswith("*"):  # name.namespace
        return f"{pattern}.svc.cluster.local" == fqdn
    return fnmatch.fnmatchcase(fqdn, pattern)


@dataclass(frozen=True)
class TlsOverride:
    rule: str
    host: str
    port: int | None
    mode: str

    def __str__(self) -> str:
        where = f"{self.host}:{self.port}" if self.port else self.host
        return f"{self.rule} sends {self.mode} to {where}"


def destination_rule_overrides(destination_rules: list[Obj], service_hosts: list[str]) -> list[TlsOverride]:
    """DestinationRules whose client-side TLS towards a Prefect Service is not Istio mTLS."""
    out = []
    for rule in destination_rules:
        spec = rule.get("spec") or {}
        pattern = str(spec.get("host") or "")
        namespace = str(_meta(rule).get("namespace") or "")
        for host in service_hosts:
            if not host_matches(pattern, host, namespace):
                continue
            policy = spec.get("trafficPolicy") or {}
            mode = str((policy.get("tls") or {}).get("mode") or "").upper()
            if mode and mode != "ISTIO_MUTUAL":
                out.append(TlsOverride(ref(rule), host, None, mode))
            for setting in policy.get("portLevelSettings") or []:
                port_mode = str((setting.get("tls") or {}).get("mode") or "").upper()
                if port_mode and port_mode != "ISTIO_MUTUAL":
                    out.append(TlsOverride(ref(rule), host, (setting.get("port") or {}).get("number"), port_mode))
    return out


# -- authorization -------------------------------------------------------------------------------
def policies_for(workload: Workload, policies: list[Obj], root_namespace: str) -> list[Obj]:
    """AuthorizationPolicies that apply: root-namespace ones without selector (mesh-wide), the
    namespace's without selector, and those whose selector matches the workload."""
    out = []
    for policy in policies:
        namespace = _meta(policy).get("namespace")
        selector = (policy.get("spec") or {}).get("selector")
        mesh_wide = namespace == root_namespace and not selector
        local = namespace == workload.namespace and (not selector or selects(selector, workload.labels))
        if mesh_wide or local:
            out.append(policy)
    return out


def allows_everything(policy: Obj) -> bool:
    """An ALLOW policy with a rule that matches any request (an empty rule, `rules: [{}]`)."""
    spec = policy.get("spec") or {}
    if str(spec.get("action") or "ALLOW").upper() != "ALLOW":
        return False
    return any(not (rule or {}).get("from") and not (rule or {}).get("to") and not (rule or {}).get("when")
               for rule in spec.get("rules") or [])  # fmt: skip


# -- routing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    virtual_service: str
    host: str  # the public host it serves
    prefix: str | None  # URI prefix matched (None: no uri match = every path)
    destination: str  # Service FQDN
    port: int | None
    service_found: bool
    port_found: bool
    ready_endpoints: int

    @property
    def live(self) -> bool:
        return self.service_found and self.port_found and self.ready_endpoints > 0

    def __str__(self) -> str:
        prefix = self.prefix if self.prefix is not None else "(any)"
        port = f":{self.port}" if self.port else ""
        state = (
            "ok"
            if self.live
            else "no such Service"
            if not self.service_found
            else "no such port"
            if not self.port_found
            else "no ready endpoints"
        )
        return f"{self.host}{prefix} -> {self.destination}{port} [{state}] ({self.virtual_service})"


@dataclass(frozen=True)
class GatewayApiRoute:
    """One rule of a Gateway API HTTPRoute for a public host: attached to a Gateway (Accepted), its references
    resolved (ResolvedRefs), and every backendRef a Service that exists, with the port, with ready endpoints."""

    http_route: str  # namespace/name
    host: str
    prefix: str | None
    parents: tuple[str, ...]  # each parent Gateway's state, in words
    attached: bool  # Accepted and ResolvedRefs on at least one parent Gateway
    backends: tuple[Route, ...]  # one per backendRef (virtual_service: the HTTPRoute)

    @property
    def live(self) -> bool:
        return self.attached and bool(self.backends) and all(b.live for b in self.backends)

    def __str__(self) -> str:
        prefix = self.prefix if self.prefix is not None else "(any)"
        if not self.attached:
            state = "not attached: " + ("; ".join(self.parents) or "no parent Gateway")
        elif not self.backends:
            state = "no backendRef"
        else:
            state = ", ".join(f"{b.destination}{f':{b.port}' if b.port else ''} {_backend_state(b)}"
                              for b in self.backends)  # fmt: skip
        return f"{self.host}{prefix} -> [{state}] (HTTPRoute {self.http_route})"


def _backend_state(route: Route) -> str:
    if route.live:
        return f"ok, {route.ready_endpoints} ready endpoint{'s' if route.ready_endpoints != 1 else ''}"
    if not route.service_found:
        return "no such Service"
    return "no such port" if not route.port_found else "no ready endpoints"


def gateway_serves(gateway: Obj, host: str) -> bool:
    for server in (gateway.get("spec") or {}).get("servers") or []:
        for pattern in server.get("hosts") or []:
            name = str(pattern).split("/", 1)[-1]  # "namespace/host" form
            if fnmatch.fnmatchcase(host.lower(), name.lower()):
                return True
    return False


def prefix_serves(prefix: str | None, path: str) -> bool:
    return prefix is None or path.startswith(prefix) or prefix == "/"


def service_fqdn(host: str, namespace: str) -> str:
    if "." not in host:
        return f"{host}.{namespace}.svc.cluster.local"
    if host.count(".") == 1:
        return f"{host}.svc.cluster.local"
    return host


def route_targets(virtual_service: Obj, host: str) -> list[tuple[str | None, str, int | None]]:
    """(uri prefix, destination Service FQDN, port) of every HTTP route of `virtual_service` for `host`."""
    spec = virtual_service.get("spec") or {}
    namespace = str(_meta(virtual_service).get("namespace") or "")
    if not any(fnmatch.fnmatchcase(host.lower(), str(h).lower()) for h in spec.get("hosts") or []):
        return []
    out = []
    for http in spec.get("http") or []:
        prefixes = [((m or {}).get("uri") or {}).get("prefix") for m in http.get("match") or [{}]]
        for prefix in prefixes or [None]:
            for route in http.get("route") or []:
                destination = route.get("destination") or {}
                port = (destination.get("port") or {}).get("number")
                out.append((prefix, service_fqdn(str(destination.get("host", "")), namespace), port))
    return out


# -- results -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlPlane:
    namespace: str
    deployments: list[str]
    ready_replicas: int
    available: bool
    version: str | None
    crds: dict[str, list[str]]  # plural.group -> served versions
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Enrollment:
    namespace: str
    labels: dict[str, str]
    mode: str | None  # "sidecar injection (istio-injection=enabled)", "ambient", None
    pods: dict[str, str]  # pod -> "sidecar" | "ambient" | "none"
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def without_proxy(self) -> list[str]:
        return sorted(pod for pod, how in self.pods.items() if how == "none")


@dataclass(frozen=True)
class Authorization:
    #: workload -> the policies that apply to it
    applying: dict[str, list[str]]
    allow_all: list[str]
    request_authentications: list[dict[str, Any]]
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def unprotected(self) -> list[str]:
        return sorted(w for w, policies in self.applying.items() if not policies)


# -- the probe -----------------------------------------------------------------------------------
class Mesh:
    """Read-only view of the Istio objects around the Prefect namespace."""

    def __init__(self, api: Any, namespace: str, mesh_namespace: str, timeout: float) -> None:
        from kubernetes import client

        self.api = api
        self.namespace = namespace
        self.root_namespace = mesh_namespace
        self.timeout = timeout
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.extensions = client.ApiextensionsV1Api(api)
        self.discovery = client.DiscoveryV1Api(api)
        self._served: dict[str, str] = {}
        self.server = getattr(api.configuration, "host", "?")

    # -- transport -------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except Exception as exc:
            raise self._translate(what, exc) from None

    def _translate(self, what: str, exc: Exception) -> Exception:
        """One line a person can act on, for an API error or a transport failure; others unchanged."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        if isinstance(exc, ApiException):
            if exc.status in (401, 403):
                return CheckError(
                    f"the Kubernetes API at {self.server} refused to {what}: {exc.status} {exc.reason}; "
                    "grant the suite's identity read access (deploy/rbac)"
                )
            return CheckError(f"the Kubernetes API at {self.server} could not {what}: {exc.status} {exc.reason}")
        if isinstance(exc, HTTPError | OSError):
            cause = str(exc).splitlines()[0][:200]
            return CheckError(f"cannot reach the Kubernetes API at {self.server} to {what}: {cause}")
        return exc

    def objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Istio objects of one kind (all namespaces when `namespace` is None); CheckError when the
        cluster does not serve the kind (Istio's CRDs are not installed)."""
        from kubernetes.client.exceptions import ApiException

        group = KINDS[plural]
        versions = [self._served[plural]] if plural in self._served else list(API_VERSIONS)
        for version in versions:
            try:
                if namespace is None:
                    body = self.custom.list_cluster_custom_object(group, version, plural, _request_timeout=self.timeout)
                else:
                    body = self.custom.list_namespaced_custom_object(
                        group, version, namespace, plural, _request_timeout=self.timeout
                    )
            except Exception as exc:
                if isinstance(exc, ApiException) and exc.status == 404:
                    continue
                raise self._translate(f"list {plural}.{group}", exc) from None
            self._served[plural] = version
            return list(body.get("items") or [])
        raise CheckError(
            f"the cluster does not serve {plural}.{group} ({'/'.join(API_VERSIONS)}): Istio's CRDs are not installed"
        )

    # -- what the checks ask ---------------------------------------------------------------------
    def control_plane(self) -> ControlPlane:
        deployments = self.call(
            f"list Deployments in {self.root_namespace}",
            self.apps.list_namespaced_deployment,
            self.root_namespace,
            label_selector="app=istiod",
        ).items
        ready = sum((d.status.ready_replicas or 0) for d in deployments)
        available = any(
            c.type == "Available" and c.status == "True" for d in deployments for c in (d.status.conditions or [])
        )
        version = None
        for d in deployments:
            labels = d.metadata.labels or {}
            image = next((c.image for c in d.spec.template.spec.containers if c.name == "discovery"), None)
            version = labels.get("app.kubernetes.io/version") or (image.rsplit(":", 1)[-1] if image else None)
        crds: dict[str, list[str]] = {}
        for crd in self.call("list CustomResourceDefinitions", self.extensions.list_custom_resource_definition).items:
            if crd.spec.group.endswith("istio.io"):
                crds[crd.metadata.name] = [v.name for v in crd.spec.versions if v.served]
        evidence = {
            "namespace": self.root_namespace,
            "deployments": {
                f"{d.metadata.namespace}/{d.metadata.name}": {
                    "replicas": d.spec.replicas,
                    "ready": d.status.ready_replicas or 0,
                    "conditions": {c.type: c.status for c in d.status.conditions or []},
                }
                for d in deployments
            },
            "crds": crds,
            "at": now_iso(),
        }
        names = [f"{d.metadata.namespace}/{d.metadata.name}" for d in deployments]
        return ControlPlane(self.root_namespace, names, ready, available, version, crds, evidence)

    def workloads(self) -> list[Workload]:
        deployments = self.call(
            f"list Deployments in {self.namespace}", self.apps.list_namespaced_deployment, self.namespace
        ).items
        out = []
        for d in deployments:
            template = d.spec.template
            ports = sorted(
                {p.container_port for c in template.spec.containers if c.name != SIDECAR for p in c.ports or []}
            )
            out.append(Workload(self.namespace, d.metadata.name, dict(template.metadata.labels or {}), ports))
        return out

    def services(self) -> dict[str, Any]:
        """Service FQDN -> V1Service, in the Prefect namespace."""
        items = self.call(f"list Services in {self.namespace}", self.core.list_namespaced_service, self.namespace)
        return {f"{s.metadata.name}.{s.metadata.namespace}.svc.cluster.local": s for s in items.items}

    def mtls(self) -> tuple[list[PortMode], list[TlsOverride], dict[str, Any]]:
        peer_authentications = self.objects("peerauthentications")
        destination_rules = self.objects("destinationrules")
        modes = [m for w in self.workloads() for m in effective_mtls(w, peer_authentications, self.root_namespace)]
        overrides = destination_rule_overrides(destination_rules, list(self.services()))
        evidence = {
            "root_namespace": self.root_namespace,
            "peer_authentications": {ref(p): (p.get("spec") or {}) for p in peer_authentications},
            "destination_rules": {
                ref(r): ((r.get("spec") or {}).get("trafficPolicy") or {}) for r in destination_rules
            },
            "at": now_iso(),
        }
        return modes, overrides, evidence

    def enrollment(self) -> Enrollment:
        ns = self.call(f"read Namespace {self.namespace}", self.core.read_namespace, self.namespace)
        labels = dict(ns.metadata.labels or {})
        mode = None
        if labels.get("istio.io/dataplane-mode") == "ambient":
            mode = "ambient (istio.io/dataplane-mode=ambient)"
        elif labels.get("istio-injection") == "enabled":
            mode = "sidecar injection (istio-injection=enabled)"
        elif labels.get("istio.io/rev"):
            mode = f"sidecar injection (istio.io/rev={labels['istio.io/rev']})"
        pods: dict[str, str] = {}
        for pod in self.call(f"list Pods in {self.namespace}", self.core.list_namespaced_pod, self.namespace).items:
            if pod.status.phase != "Running" or pod.metadata.deletion_timestamp is not None:
                continue
            names = {c.name for c in pod.spec.containers} | {c.name for c in pod.spec.init_containers or []}
            annotations = pod.metadata.annotations or {}
            if SIDECAR in names:
                pods[pod.metadata.name] = "sidecar"
            elif annotations.get("ambient.istio.io/redirection") == "enabled":
                pods[pod.metadata.name] = "ambient"
            else:
                pods[pod.metadata.name] = "none"
        evidence = {"namespace": self.namespace, "labels": labels, "pods": pods, "at": now_iso()}
        return Enrollment(self.namespace, labels, mode, pods, evidence)

    def authorization(self) -> Authorization:
        policies = self.objects("authorizationpolicies")
        relevant = [p for p in policies if _meta(p).get("namespace") in (self.namespace, self.root_namespace)]
        applying = {str(w): [ref(p) for p in policies_for(w, relevant, self.root_namespace)] for w in self.workloads()}
        allow_all = sorted({ref(p) for p in relevant if allows_everything(p)})
        request_auth = []
        for ra in self.objects("requestauthentications"):
            if _meta(ra).get("namespace") not in (self.namespace, self.root_namespace):
                continue
            for rule in (ra.get("spec") or {}).get("jwtRules") or []:
                request_auth.append({"object": ref(ra), "issuer": rule.get("issuer"), "jwksUri": rule.get("jwksUri")})
        evidence = {
            "authorization_policies": {ref(p): (p.get("spec") or {}) for p in relevant},
            "request_authentications": request_auth,
            "at": now_iso(),
        }
        return Authorization(applying, allow_all, request_auth, evidence)

    def routes(self, hosts: list[str]) -> tuple[dict[str, list[str]], list[Route], dict[str, Any]]:
        """(host -> Gateways serving it, the VirtualService routes for those hosts, evidence)."""
        gateways = self.objects("gateways")
        virtual_services = self.objects("virtualservices")
        served = {h: [ref(g) for g in gateways if gateway_serves(g, h)] for h in hosts}
        routes: list[Route] = []
        services_by_ns: dict[str, dict[str, Any]] = {}
        for vs in virtual_services:
            for host in hosts:
                for prefix, destination, port in route_targets(vs, host):
                    parts = destination.split(".")
                    svc_name, svc_ns = parts[0], parts[1] if len(parts) > 1 else _meta(vs).get("namespace")
                    found = self._service_target(services_by_ns, svc_ns, svc_name, port)
                    routes.append(Route(ref(vs), host, prefix, destination, port, *found))
        evidence = {
            "gateways": {ref(g): (g.get("spec") or {}).get("servers") for g in gateways},
            "virtual_services": {ref(v): (v.get("spec") or {}) for v in virtual_services},
            "at": now_iso(),
        }
        return served, routes, evidence

    def http_routes(self, hosts: list[str]) -> tuple[dict[str, list[str]], list[GatewayApiRoute], dict[str, Any]]:
        """Gateway API HTTPRoutes in the Prefect namespace for `hosts`: (host -> Gateways with an attached route
        for it, the routes' rules for those hosts, evidence). Nothing when the cluster serves no Gateway API."""
        from kubernetes.client.exceptions import ApiException

        from readiness.probes.gateway_api import GROUP, VERSION, parse_http_route

        try:
            body = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "httproutes", _request_timeout=self.timeout
            )
        except Exception as exc:
            if isinstance(exc, ApiException) and exc.status == 404:
                return {h: [] for h in hosts}, [], {}
            raise self._translate(f"list httproutes.{GROUP}", exc) from None
        parsed = [parse_http_route(o) for o in body.get("items") or []]
        served: dict[str, list[str]] = {h: [] for h in hosts}
        out: list[GatewayApiRoute] = []
        services: dict[str, dict[str, Any]] = {}
        for route in parsed:
            attached = [p for p in route.parents if p.accepted and p.resolved]
            for host in hosts:
                if not route.serves_host(host):
                    continue
                for parent in route.parents:
                    name = f"Gateway {parent.gateway_ref} (HTTPRoute {route.ref})"
                    if parent.accepted and name not in served[host]:
                        served[host].append(name)
                for rule in route.rules:
                    backends = tuple(self._backend(services, route.ref, host, b.namespace, b.name, b.kind, b.port)
                                     for b in rule.backends)  # fmt: skip
                    for prefix in rule.prefixes:
                        out.append(GatewayApiRoute(route.ref, host, prefix, tuple(p.describe() for p in route.parents),
                                                   bool(attached), backends))  # fmt: skip
        evidence = {
            "http_routes": {
                r.ref: {
                    "hostnames": list(r.hostnames),
                    "parents": [p.describe() for p in r.parents],
                    "backends": [str(b) for b in r.backends],
                }  # fmt: skip
                for r in parsed
            }
        }
        return served, out, evidence

    def _backend(
        self, services: dict[str, dict[str, Any]], route: str, host: str, namespace: str, name: str, kind: str,
        port: int | None,
    ) -> Route:  # fmt: skip
        fqdn = f"{name}.{namespace}.svc.cluster.local"
        if kind != "Service":
            return Route(f"HTTPRoute {route}", host, None, f"{kind} {namespace}/{name}", port, False, False, 0)
        found = self._service_target(services, namespace, name, port)
        return Route(f"HTTPRoute {route}", host, None, fqdn, port, *found)

    def _service_target(
        self, services: dict[str, dict[str, Any]], namespace: str, name: str, port: int | None
    ) -> tuple[bool, bool, int]:
        """Where a route sends its traffic: whether Service `namespace/name` exists, has `port` (any, when None)
        and how many ready endpoints it has; `services` caches each namespace's Services across routes."""
        if namespace not in services:
            items = self.call(f"list Services in {namespace}", self.core.list_namespaced_service, namespace).items
            services[namespace] = {s.metadata.name: s for s in items}
        service = services[namespace].get(name)
        ports = [p.port for p in service.spec.ports or []] if service is not None else []
        port_found = service is not None and (port is None or port in ports)
        return service is not None, port_found, self._ready_endpoints(namespace, name) if port_found else 0

    def _ready_endpoints(self, namespace: str, service: str) -> int:
        slices = self.call(
            f"list EndpointSlices of {namespace}/{service}",
            self.discovery.list_namespaced_endpoint_slice,
            namespace,
            label_selector=f"kubernetes.io/service-name={service}",
        ).items
        return sum(
            1
            for s in slices
            for e in s.endpoints or []
            if e.conditions is None or e.conditions.ready is None or e.conditions.ready
        )


# -- behaviour at the public endpoint ------------------------------------------------------------
@dataclass(frozen=True)
class Refusals:
    statuses: dict[str, int]  # request -> HTTP status
    evidence: dict[str, Any]

    @property
    def all_refused(self) -> bool:
        return all(status in (401, 403) for status in self.statuses.values())


def forged_token(issuer: str) -> str:
    """An RS256 JWT for `issuer` signed with a key nobody trusts: a forgery a policy must refuse."""
    import base64
    import json
    import time

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "readiness-forged"}
    claims = {"iss": issuer or "https://forged.invalid", "sub": "readiness-forged", "aud": "prefect",
              "iat": now, "exp": now + 300}  # fmt: skip
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def refused_without_credentials(api_url: str, timeout: float, verify: Any, issuer: str = "") -> Refusals:
    """A read of the Prefect API through the public endpoint with no credentials, then with a forged
    bearer token: both must be refused (401/403)."""
    import httpx

    from readiness.probes.http import response_evidence, translated

    url = f"{api_url.rstrip('/')}/flows/filter"
    attempts = {"no credentials": {}, "forged bearer token": {"Authorization": f"Bearer {forged_token(issuer)}"}}
    statuses: dict[str, int] = {}
    evidence: dict[str, Any] = {}
    with httpx.Client(verify=verify, timeout=timeout) as client:
        for what, headers in attempts.items():
            with translated(url):
                response = client.post(url, json={"limit": 1}, headers=headers)
            statuses[what] = response.status_code
            evidence[what] = response_evidence(response, body_limit=120)
    return Refusals(statuses, evidence)


# -- the plaintext probe (a write: a short-lived Job) -----------------------------------------------
PROBE_LABEL = "app.kubernetes.io/name"
PROBE_NAME = "readiness-mtls-probe"
RUN_LABEL = "readiness.prefect.io/run-id"
#: the probe container's exit codes
REFUSED, ANSWERED, INCONCLUSIVE = 0, 10, 20
_SCRIPT = (
    'out=$(curl -sS -o /dev/null -w "%{{http_code}}" --max-time {seconds} "{url}" 2>&1); rc=$?; '
    'echo "curl exit $rc: $out"; '
    "case $rc in 0) exit 10;; 52|56|35|16) exit 0;; *) exit 20;; esac"
)


@dataclass(frozen=True)
class PlaintextProbeResult:
    job: str
    pod: str | None
    node: str | None
    simulated_node: bool
    exit_code: int | None
    verdict: str  # "refused" | "answered" | "inconclusive" | "no result"
    cleaned_up: bool
    evidence: dict[str, Any] = field(default_factory=dict)


def read_probe_exit(exit_code: int | None) -> str:
    return {REFUSED: "refused", ANSWERED: "answered", INCONCLUSIVE: "inconclusive"}.get(
        exit_code if exit_code is not None else -1, "no result"
    )


def probe_job(name: str, namespace: str, run_id: str, url: str, image: str, seconds: int) -> Obj:
    """A Job whose one pod stays outside the mesh (no sidecar) and speaks plaintext HTTP to `url`."""
    labels = {PROBE_LABEL: PROBE_NAME, RUN_LABEL: run_id, "sidecar.istio.io/inject": "false"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": seconds + 30,
            "ttlSecondsAfterFinished": 300,  # a safety net; the check deletes it itself
            "template": {
                "metadata": {"labels": labels, "annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "probe",
                            "image": image,
                            "command": ["sh", "-c", _SCRIPT.format(seconds=seconds, url=url)],
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                                "limits": {"cpu": "100m", "memory": "64Mi"},
                            },  # fmt: skip
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 65534,
                                "allowPrivilegeEscalation": False,
                            },  # fmt: skip
                        }
                    ],
                },
            },
        },
    }


def plaintext_probe(mesh: Mesh, run_id: str, url: str, image: str, timeout: float) -> PlaintextProbeResult:
    """Run the probe Job in the Prefect namespace, read its pod's exit code, delete it whatever happens."""
    import time

    from kubernetes import client

    batch = client.BatchV1Api(mesh.api)
    suffix = "".join(c for c in run_id.lower() if c.isalnum())[-12:] or "run"
    name = f"{PROBE_NAME}-{suffix}"
    seconds = max(2, int(timeout / 4))
    job = probe_job(name, mesh.namespace, run_id, url, image, seconds)
    selector = f"job-name={name}"
    deadline = time.monotonic() + timeout * 0.7
    pod_name = node_name = None
    exit_code: int | None = None
    log_line: str | None = None
    mesh.call(f"create Job {mesh.namespace}/{name}", batch.create_namespaced_job, mesh.namespace, job)
    try:
        while time.monotonic() < deadline:
            pods = mesh.call("list the probe's pods", mesh.core.list_namespaced_pod, mesh.namespace,
                              label_selector=selector).items  # fmt: skip
            for pod in pods:
                pod_name, node_name = pod.metadata.name, pod.spec.node_name
                for status in pod.status.container_statuses or []:
                    if status.state and status.state.terminated is not None:
                        exit_code = status.state.terminated.exit_code
            if exit_code is not None:
                break
            time.sleep(0.5)
        if pod_name and exit_code is not None:
            try:
                log_line = mesh.core.read_namespaced_pod_log(pod_name, mesh.namespace, _request_timeout=mesh.timeout)
            except Exception as exc:  # a simulated node has no kubelet to serve logs
                log_line = f"(no log: {type(exc).__name__} {getattr(exc, 'status', '')})".strip()
        simulated = False
        node_labels: dict[str, str] = {}
        if node_name:
            node = mesh.call(f"read Node {node_name}", mesh.core.read_node, node_name)
            node_labels = dict(node.metadata.labels or {})
            simulated = (node.metadata.annotations or {}).get("kwok.x-k8s.io/node") == "fake" or (
                node_labels.get("type") == "kwok"
            )
    finally:
        cleaned = _delete_probe(mesh, batch, name, selector, timeout=max(5.0, timeout * 0.25))
    verdict = read_probe_exit(exit_code)
    evidence = {
        "job": f"{mesh.namespace}/{name}",
        "url": url,
        "image": image,
        "pod": pod_name,
        "node": node_name,
        "simulated_node": simulated,
        "exit_code": exit_code,
        "log": (log_line or "")[:300],
        "verdict": verdict,
        "cleaned_up": cleaned,
        "at": now_iso(),
    }
    return PlaintextProbeResult(name, pod_name, node_name, simulated, exit_code, verdict, cleaned, evidence)


def _delete_probe(mesh: Mesh, batch: Any, name: str, selector: str, timeout: float) -> bool:
    import time

    from kubernetes import client

    try:
        batch.delete_namespaced_job(name, mesh.namespace, body=client.V1DeleteOptions(propagation_policy="Foreground",
                                    grace_period_seconds=0), _request_timeout=mesh.timeout)  # fmt: skip
        # Foreground deletion may leave a finished pod to the garbage collector: delete it too.
        mesh.core.delete_collection_namespaced_pod(mesh.namespace, label_selector=selector, grace_period_seconds=0,
                                                   _request_timeout=mesh.timeout)  # fmt: skip
    except Exception as exc:
        if getattr(exc, "status", None) != 404:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            jobs = batch.list_namespaced_job(mesh.namespace, field_selector=f"metadata.name={name}",
                                             _request_timeout=mesh.timeout).items  # fmt: skip
            pods = mesh.core.list_namespaced_pod(mesh.namespace, label_selector=selector,
                                                 _request_timeout=mesh.timeout).items  # fmt: skip
        except Exception:
            return False
        if not jobs and not pods:
            return True
        time.sleep(0.3)
    return False


def leftover_probes(mesh: Mesh, run_id: str) -> list[str]:
    """Probe Jobs and pods this run left behind (for the verdict tests and a person's cleanup)."""
    from kubernetes import client

    selector = f"{RUN_LABEL}={run_id}"
    jobs = client.BatchV1Api(mesh.api).list_namespaced_job(mesh.namespace, label_selector=selector).items
    pods = mesh.core.list_namespaced_pod(mesh.namespace, label_selector=selector).items
    return [f"Job {j.metadata.name}" for j in jobs] + [f"Pod {p.metadata.name}" for p in pods]
