"""A Gateway API edge in the sandbox cluster: the standard-channel CRDs, Prefect's Gateway and HTTPRoute as
the prefect-server chart renders them, and the sandbox playing the implementation's controller.

- :func:`crds`: the CRDs of the Go module sigs.k8s.io/gateway-api (config/crd/standard), fetched once by
  tools/gateway-api.sh into the cache and parsed.
- :func:`edge_objects`: the GatewayClass, Gateway and HTTPRoute of manifests/kubernetes/gateway-api/edge.yaml.
- :func:`install_edge` / :func:`remove_edge`: CRDs applied (and Established), the objects applied, status written.
- :func:`mark_status`: what the controller publishes through the status subresources: the GatewayClass
  Accepted, each Gateway Accepted and Programmed with the ingress address in ``status.addresses`` and its
  listeners' conditions, each HTTPRoute parent Accepted with ResolvedRefs (False, BackendNotFound, when a
  backendRef names a Service that does not exist, as a real controller reports it).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from readiness.core.cache import CACHE_ROOT
from readiness.probes.gateway_api import host_matches
from readiness.sandbox.base import SandboxError
from readiness.sandbox.kubernetes.kube import Kube, Obj, Ref, wait_for
from readiness.sandbox.kubernetes.manifests import MANIFEST_DIR, base_object, load_yaml_documents

VERSION = os.environ.get("GATEWAY_API_VERSION", "v1.6.3")
SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "gateway-api.sh"
EDGE_FILE = MANIFEST_DIR / "gateway-api" / "edge.yaml"
GROUP = "gateway.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
#: the implementation the sandbox plays (the GatewayClass of edge.yaml names it)
CONTROLLER = "istio.io/gateway-controller"
#: the address the sandbox's load balancer publishes when the manifests do not say (the ingress Service's)
FALLBACK_ADDRESS = "203.0.113.10"
ROUTE_KINDS = ({"group": GROUP, "kind": "HTTPRoute"}, {"group": GROUP, "kind": "GRPCRoute"})


def _log(message: str) -> None:
    print(f"sandbox: kubernetes: gateway-api: {message}", file=sys.stderr, flush=True)


# -- the CRDs ------------------------------------------------------------------------------------
def crd_dir() -> Path:
    return CACHE_ROOT / f"gateway-api-{VERSION}"


def crds() -> list[Obj]:
    """The standard-channel CRDs of sigs.k8s.io/gateway-api@VERSION, fetched into the cache on first use."""
    folder = crd_dir()
    if not (folder / ".complete").exists():
        env = {**os.environ, "GATEWAY_API_VERSION": VERSION, "READINESS_CACHE": str(CACHE_ROOT)}
        done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not (folder / ".complete").exists():
            raise SandboxError(f"fetching the Gateway API CRDs failed ({SCRIPT}):\n{done.stderr.strip()}")
    out = [doc for path in sorted(folder.glob("*.yaml")) for doc in load_yaml_documents(path)]
    return [doc for doc in out if doc.get("kind") == "CustomResourceDefinition"]


def install_crds(kube: Kube) -> None:
    kube.apply_crds(crds(), "Gateway API CRDs")


# -- the edge objects ----------------------------------------------------------------------------
def edge_objects() -> list[Obj]:
    """GatewayClass, Gateway and HTTPRoute of Prefect's Gateway API edge (fresh copies)."""
    return load_yaml_documents(EDGE_FILE)


def default_address() -> str:
    """The address the sandbox's load balancer publishes (the ingress controller Service's status)."""
    service = base_object(Ref("v1", "Service", "ingress-nginx-controller", "ingress-nginx"))
    entries = (((service or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return next((e.get("ip") or e.get("hostname") for e in entries if e.get("ip") or e.get("hostname")),
                FALLBACK_ADDRESS)  # fmt: skip


def install_edge(kube: Kube, address: str | None = None, objects: Iterable[Obj] | None = None) -> None:
    """The CRDs, then `objects` (default: edge.yaml), then the controller's status for them."""
    started = time.monotonic()
    install_crds(kube)
    for obj in objects if objects is not None else edge_objects():
        kube.apply_when_served(obj)
    mark_status(kube, address)
    _log(f"edge installed after {time.monotonic() - started:.1f} s")


def remove_edge(kube: Kube, objects: Iterable[Obj] | None = None) -> None:
    """Delete the edge objects (routes first); the CRDs stay."""
    for obj in reversed(list(objects if objects is not None else edge_objects())):
        ref = Ref.of(obj)
        kube.delete(ref)
        wait_for(lambda r=ref: kube.get(r) is None, 60, f"{ref} deleted")


def restore_routes(kube: Kube, objects: Iterable[Obj] | None = None) -> None:
    """Put the edge's HTTPRoutes back exactly as edge.yaml writes them (after a fault edited one)."""
    for obj in objects if objects is not None else edge_objects():
        if obj["kind"] == "HTTPRoute":
            kube.replace(obj)


def require_edge(kube: Kube) -> None:
    """A fault on the edge needs one: a Gateway of the sandbox's GatewayClass and an HTTPRoute in namespace prefect."""
    try:
        gateways = kube.list(Ref(API_VERSION, "Gateway"))
        routes = kube.list(Ref(API_VERSION, "HTTPRoute", namespace="prefect"))
    except SandboxError:  # the Gateway API is not served at all
        gateways, routes = [], []
    if not gateways or not routes:
        raise SandboxError(
            "this scenario breaks a Gateway API edge, and there is none: apply gateway-api-edge first "
            "(`readiness sandbox apply gateway-api-edge`)"
        )


# -- the controller ------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> Obj:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": _now(),
    }


def _address_entry(address: str) -> Obj:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"type": "Hostname", "value": address}
    return {"type": "IPAddress", "value": address}


def _targets(parent: Obj, route_namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the Gateway a parentRef names, None for another kind of parent."""
    if parent.get("group", GROUP) != GROUP or parent.get("kind", "Gateway") != "Gateway":
        return None
    return parent.get("namespace") or route_namespace, parent["name"]


def _listener_matches(listener: Obj, parent: Obj, hostnames: list[str]) -> bool:
    if parent.get("sectionName") and parent["sectionName"] != listener["name"]:
        return False
    if parent.get("port") and parent["port"] != listener.get("port"):
        return False
    pattern = listener.get("hostname")
    if not pattern or not hostnames:
        return True
    return any(host_matches(pattern, host) for host in hostnames)


def _backend_problem(kube: Kube, backend: Obj, namespace: str) -> tuple[str, str] | None:
    """(reason, message) why a backendRef does not resolve, None when it does."""
    kind, group = backend.get("kind", "Service"), backend.get("group", "")
    if kind != "Service" or group not in ("", "core"):
        return "InvalidKind", f"backendRef {backend.get('name')}: kind {kind} is not supported"
    where = backend.get("namespace") or namespace
    if where != namespace:
        grants = kube.list(Ref(f"{GROUP}/v1beta1", "ReferenceGrant", namespace=where))
        if not any(
            any(f.get("kind") == "HTTPRoute" and f.get("namespace") == namespace for f in g["spec"].get("from", []))
            for g in grants
        ):
            return "RefNotPermitted", f"backendRef {where}/{backend['name']} is not permitted by a ReferenceGrant"
    if kube.get(Ref("v1", "Service", backend["name"], where)) is None:
        return "BackendNotFound", f"backend(s) not found: Service {where}/{backend['name']}"
    return None


def mark_status(
    kube: Kube,
    address: str | None = None,
    programmed: tuple[str, str] | None = None,
) -> None:
    """Publish the controller's status for every GatewayClass of CONTROLLER, its Gateways and their HTTPRoutes.

    `programmed`: (reason, message) of a Gateway the controller could not program (Programmed=False); the
    address stays assigned. None: every Gateway Programmed=True.
    """
    address = address or default_address()
    classes = [c for c in kube.list(Ref(API_VERSION, "GatewayClass")) if c["spec"].get("controllerName") == CONTROLLER]
    for gateway_class in classes:
        generation = gateway_class["metadata"].get("generation", 1)
        status = {
            "conditions": [
                condition("Accepted", True, "Accepted", "Handled by Istio controller", generation),
                condition(
                    "SupportedVersion", True, "SupportedVersion", f"Gateway API {VERSION} is supported", generation
                ),  # fmt: skip
            ]
        }
        kube.patch(Ref.of(gateway_class), {"status": status}, "merge", subresource="status")
    ours = {c["metadata"]["name"] for c in classes}
    gateways = {
        (g["metadata"]["namespace"], g["metadata"]["name"]): g
        for g in kube.list(Ref(API_VERSION, "Gateway"))
        if g["spec"].get("gatewayClassName") in ours
    }
    attached: dict[tuple[str, str, str], int] = {}
    for route in kube.list(Ref(API_VERSION, "HTTPRoute")):
        meta, spec = route["metadata"], route["spec"]
        namespace, generation = meta["namespace"], meta.get("generation", 1)
        problems = [
            p
            for rule in spec.get("rules") or []
            for backend in rule.get("backendRefs") or []
            if (p := _backend_problem(kube, backend, namespace))
        ]
        parents = []
        for parent in spec.get("parentRefs") or []:
            target = _targets(parent, namespace)
            if target is None or target not in gateways:
                continue
            listeners = gateways[target]["spec"].get("listeners") or []
            matching = [li for li in listeners if _listener_matches(li, parent, spec.get("hostnames") or [])]
            for listener in matching:
                key = (*target, listener["name"])
                attached[key] = attached.get(key, 0) + 1
            accepted = (
                condition("Accepted", True, "Accepted", "Route was valid", generation)
                if matching
                else condition("Accepted", False, "NoMatchingParent", "no listener of the Gateway matches", generation)
            )
            resolved = (
                condition("ResolvedRefs", False, problems[0][0], "; ".join(m for _, m in problems), generation)
                if problems
                else condition("ResolvedRefs", True, "ResolvedRefs", "All references resolved", generation)
            )
            parent_ref = {"group": GROUP, "kind": "Gateway", **parent, "namespace": target[0]}
            parents.append({"parentRef": parent_ref, "controllerName": CONTROLLER, "conditions": [accepted, resolved]})
        if not parents:
            continue
        others = [p for p in (route.get("status") or {}).get("parents") or [] if p.get("controllerName") != CONTROLLER]
        kube.patch(Ref.of(route), {"status": {"parents": others + parents}}, "merge", subresource="status")
    for (namespace, name), gateway in gateways.items():
        generation = gateway["metadata"].get("generation", 1)
        ok = programmed is None
        reason, message = programmed or (
            "Programmed",
            f"Resource programmed, assigned to service(s) {name}-istio.{namespace}.svc.cluster.local:443",
        )
        listeners = []
        for listener in gateway["spec"].get("listeners") or []:
            listeners.append(
                {
                    "name": listener["name"],
                    "supportedKinds": list(ROUTE_KINDS),
                    "attachedRoutes": attached.get((namespace, name, listener["name"]), 0),
                    "conditions": [
                        condition("Accepted", True, "Accepted", "No errors found", generation),
                        condition("Conflicted", False, "NoConflicts", "No errors found", generation),
                        condition(
                            "Programmed",
                            ok,
                            "Programmed" if ok else "Pending",
                            "No errors found" if ok else message,
                            generation,
                        ),  # fmt: skip
                        condition("ResolvedRefs", True, "ResolvedRefs", "No errors found", generation),
                    ],
                }
            )
        status = {
            "addresses": [_address_entry(address)],
            "conditions": [
                condition("Accepted", True, "Accepted", "Resource accepted", generation),
                condition("Programmed", ok, reason, message, generation),
            ],
            "listeners": listeners,
        }
        kube.patch(Ref(API_VERSION, "Gateway", name, namespace), {"status": status}, "merge", subresource="status")
