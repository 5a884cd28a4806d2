"""A Gateway API edge (gateway.networking.k8s.io/v1): GatewayClasses, Gateways and HTTPRoutes as typed values.

Pure parsing over the objects as the API returns them (dicts), so the rules are unit-tested on objects built
in code; the Kubernetes probe (ingress.py) and the mesh probe (mesh.py) read the objects and hand them here.
What "serving" means, after the API's own status conventions:
- a GatewayClass is usable when its controller set ``Accepted=True``;
- a Gateway serves when ``Programmed=True`` (its controller configured the data plane) and has an address;
- an HTTPRoute is attached to a parent Gateway when that parent's status says ``Accepted=True``, and its
  backends are resolved when ``ResolvedRefs=True`` (False with BackendNotFound, RefNotPermitted, InvalidKind).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
GROUP = "gateway.networking.k8s.io"
VERSION = "v1"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str

    @property
    def true(self) -> bool:
        return self.status == "True"

    def describe(self) -> str:
        why = f"{self.reason}: {self.message}" if self.message else self.reason
        return f"{self.type}={self.status} ({why})" if why else f"{self.type}={self.status}"


def conditions(status: Obj | None) -> dict[str, Condition]:
    out = {}
    for c in (status or {}).get("conditions") or []:
        if c.get("type"):
            out[str(c["type"])] = Condition(str(c["type"]), str(c.get("status", "Unknown")),
                                            str(c.get("reason") or ""), str(c.get("message") or ""))  # fmt: skip
    return out


def _state(found: dict[str, Condition], kind: str) -> str:
    """'Accepted', or why not, in words: 'not Accepted (reason: message)' / 'no Accepted condition'."""
    c = found.get(kind)
    if c is None:
        return f"no {kind} condition (no controller has reported on it)"
    if c.true:
        return kind
    why = f"{c.reason}: {c.message}" if c.message else c.reason or c.status
    return f"not {kind} ({why})"


@dataclass(frozen=True)
class GatewayClass:
    name: str
    controller: str
    conditions: dict[str, Condition]

    @property
    def accepted(self) -> bool:
        return "Accepted" in self.conditions and self.conditions["Accepted"].true

    def describe(self) -> str:
        return f"GatewayClass {self.name} ({self.controller}): {_state(self.conditions, 'Accepted')}"


@dataclass(frozen=True)
class Listener:
    name: str
    protocol: str
    port: int | None
    hostname: str | None
    attached_routes: int
    conditions: dict[str, Condition]


@dataclass(frozen=True)
class Gateway:
    namespace: str
    name: str
    class_name: str
    addresses: tuple[str, ...]
    conditions: dict[str, Condition]
    listeners: tuple[Listener, ...]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def programmed(self) -> bool:
        return "Programmed" in self.conditions and self.conditions["Programmed"].true

    def describe(self) -> str:
        where = ", ".join(self.addresses) or "no address"
        return f"Gateway {self.ref} (class {self.class_name}): {_state(self.conditions, 'Programmed')}, {where}"


@dataclass(frozen=True)
class BackendRef:
    namespace: str
    name: str
    kind: str
    port: int | None

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        kind = "" if self.kind == "Service" else f"{self.kind} "
        return f"{kind}{self.namespace}/{self.name}{port}"


@dataclass(frozen=True)
class RouteRule:
    prefixes: tuple[str, ...]  # PathPrefix / Exact values matched; ("/",) when the rule matches every path
    backends: tuple[BackendRef, ...]


@dataclass(frozen=True)
class RouteParent:
    gateway_namespace: str
    gateway_name: str
    section: str | None
    conditions: dict[str, Condition]  # empty: no controller reported this parent in the route's status

    @property
    def gateway_ref(self) -> str:
        return f"{self.gateway_namespace}/{self.gateway_name}"

    @property
    def accepted(self) -> bool:
        return "Accepted" in self.conditions and self.conditions["Accepted"].true

    @property
    def resolved(self) -> bool:
        return "ResolvedRefs" in self.conditions and self.conditions["ResolvedRefs"].true

    def describe(self) -> str:
        section = f" listener {self.section}" if self.section else ""
        states = f"{_state(self.conditions, 'Accepted')}, {_state(self.conditions, 'ResolvedRefs')}"
        return f"Gateway {self.gateway_ref}{section}: {states}"


@dataclass(frozen=True)
class HTTPRoute:
    namespace: str
    name: str
    hostnames: tuple[str, ...]
    parents: tuple[RouteParent, ...]
    rules: tuple[RouteRule, ...]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def serves_host(self, host: str) -> bool:
        return not self.hostnames or any(host_matches(pattern, host) for pattern in self.hostnames)

    @property
    def backends(self) -> list[BackendRef]:
        return [b for rule in self.rules for b in rule.backends]


def host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower(), host.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host.count(".") >= pattern.count(".")
    return pattern == host


def parse_gateway_class(obj: Obj) -> GatewayClass:
    return GatewayClass(obj["metadata"]["name"], str((obj.get("spec") or {}).get("controllerName") or ""),
                        conditions(obj.get("status")))  # fmt: skip


def parse_gateway(obj: Obj) -> Gateway:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    listener_status = {str(li.get("name")): li for li in status.get("listeners") or []}
    listeners = tuple(
        Listener(
            str(li.get("name")),
            str(li.get("protocol") or ""),
            li.get("port"),
            li.get("hostname"),
            int((listener_status.get(str(li.get("name"))) or {}).get("attachedRoutes") or 0),
            conditions(listener_status.get(str(li.get("name")))),
        )
        for li in spec.get("listeners") or []
    )
    addresses = tuple(str(a["value"]) for a in status.get("addresses") or [] if a.get("value"))
    return Gateway(str(meta.get("namespace") or ""), meta["name"], str(spec.get("gatewayClassName") or ""),
                   addresses, conditions(status), listeners)  # fmt: skip


def _parent_key(ref: Obj, route_namespace: str) -> tuple[str, str, str | None] | None:
    if ref.get("group", GROUP) != GROUP or ref.get("kind", "Gateway") != "Gateway":
        return None
    return str(ref.get("namespace") or route_namespace), str(ref["name"]), ref.get("sectionName")


def parse_http_route(obj: Obj) -> HTTPRoute:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    namespace = str(meta.get("namespace") or "")
    reported: dict[tuple[str, str, str | None], dict[str, Condition]] = {}
    for entry in (obj.get("status") or {}).get("parents") or []:
        key = _parent_key(entry.get("parentRef") or {}, namespace)
        if key is not None:
            reported[key] = {**reported.get(key, {}), **conditions(entry)}
    parents = []
    for ref in spec.get("parentRefs") or []:
        key = _parent_key(ref, namespace)
        if key is not None:
            parents.append(RouteParent(key[0], key[1], key[2], reported.get(key, {})))
    rules = []
    for rule in spec.get("rules") or []:
        prefixes = tuple(
            str((m.get("path") or {}).get("value") or "/") for m in rule.get("matches") or [] if m is not None
        ) or ("/",)
        backends = tuple(
            BackendRef(
                str(b.get("namespace") or namespace), str(b["name"]), str(b.get("kind") or "Service"), b.get("port")
            )  # fmt: skip
            for b in rule.get("backendRefs") or []
        )
        rules.append(RouteRule(prefixes, backends))
    return HTTPRoute(namespace, meta["name"], tuple(str(h) for h in spec.get("hostnames") or []), tuple(parents),
                     tuple(rules))  # fmt: skip


@dataclass
class GatewayApiEdge:
    """Prefect's HTTPRoutes, the Gateways they name and those Gateways' classes."""

    classes: dict[str, GatewayClass] = field(default_factory=dict)
    gateways: dict[str, Gateway] = field(default_factory=dict)  # "namespace/name" -> Gateway
    routes: list[HTTPRoute] = field(default_factory=list)

    @classmethod
    def parse(cls, classes: Iterable[Obj], gateways: Iterable[Obj], routes: Iterable[Obj]) -> GatewayApiEdge:
        parsed_classes = {c.name: c for c in map(parse_gateway_class, classes)}
        parsed_gateways = {g.ref: g for g in map(parse_gateway, gateways)}
        return cls(parsed_classes, parsed_gateways, [parse_http_route(r) for r in routes])

    @property
    def prefect_gateways(self) -> list[Gateway]:
        """The Gateways Prefect's HTTPRoutes name, that exist."""
        refs = sorted({p.gateway_ref for r in self.routes for p in r.parents})
        return [self.gateways[ref] for ref in refs if ref in self.gateways]

    def _users(self, gateway_ref: str) -> str:
        return ", ".join(sorted(r.ref for r in self.routes if any(p.gateway_ref == gateway_ref for p in r.parents)))

    def problems(self) -> list[str]:
        """Why the edge does not serve Prefect, one sentence each (empty: every Gateway that Prefect's HTTPRoutes
        name exists, is Programmed, and its GatewayClass is Accepted by its controller)."""
        out: list[str] = []
        for route in self.routes:
            if not route.parents:
                out.append(f"HTTPRoute {route.ref} names no parent Gateway")
        for ref in sorted({p.gateway_ref for r in self.routes for p in r.parents}):
            gateway = self.gateways.get(ref)
            users = self._users(ref)
            if gateway is None:
                out.append(f"Gateway {ref}, named by HTTPRoute {users}, does not exist")
                continue
            gateway_class = self.classes.get(gateway.class_name)
            if gateway_class is None:
                out.append(f"GatewayClass {gateway.class_name} of Gateway {ref} does not exist")
            elif not gateway_class.accepted:
                out.append(gateway_class.describe())
            if not gateway.programmed:
                out.append(f"Gateway {ref} (class {gateway.class_name}) is {_state(gateway.conditions, 'Programmed')}")
        return out

    def describe(self) -> str:
        """One sentence: which routes attach to which Gateways, and their state."""
        parts = []
        for gateway in self.prefect_gateways:
            users = ", ".join(
                sorted(r.ref for r in self.routes if any(p.gateway_ref == gateway.ref for p in r.parents))
            )
            gateway_class = self.classes.get(gateway.class_name)
            class_state = gateway_class.describe() if gateway_class else f"GatewayClass {gateway.class_name} missing"
            parts.append(f"HTTPRoute {users} on {gateway.describe()}; {class_state}")
        return "; ".join(parts) or "no Gateway named by Prefect's HTTPRoutes exists"

    def evidence(self) -> dict[str, Any]:
        return {
            "gateway_classes": [c.describe() for c in self.classes.values()],
            "gateways": [g.describe() for g in self.gateways.values()],
            "http_routes": {
                r.ref: {
                    "hostnames": list(r.hostnames),
                    "parents": [p.describe() for p in r.parents],
                    "backends": [str(b) for b in r.backends],
                }
                for r in self.routes
            },
        }
