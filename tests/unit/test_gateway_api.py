"""Gateway API status parsing and the rules the Kubernetes and mesh checks apply to an edge (objects built in
code, as the API returns them)."""

from __future__ import annotations

from readiness.probes.gateway_api import GatewayApiEdge, host_matches, parse_gateway, parse_http_route


def _condition(kind: str, status: str, reason: str, message: str = "") -> dict:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip


def _class(accepted: str | None = "True") -> dict:
    status = {"conditions": [_condition("Accepted", accepted, "Accepted")]} if accepted else {}
    return {"metadata": {"name": "istio"}, "spec": {"controllerName": "istio.io/gateway-controller"}, "status": status}


def _gateway(programmed: str = "True", reason: str = "Programmed", addresses: tuple[str, ...] = ("203.0.113.10",)):
    return {
        "metadata": {"name": "prefect-server", "namespace": "prefect"},
        "spec": {
            "gatewayClassName": "istio",
            "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "*.example.com"}],
        },
        "status": {
            "addresses": [{"type": "IPAddress", "value": a} for a in addresses],
            "conditions": [
                _condition("Accepted", "True", "Accepted"),
                _condition("Programmed", programmed, reason, "no data-plane replica"),
            ],  # fmt: skip
            "listeners": [{"name": "https", "attachedRoutes": 1, "conditions": [_condition("Programmed", "True", "")]}],
        },
    }


def _route(parents_status: list[dict] | None = None, backend: str = "prefect-server") -> dict:
    return {
        "metadata": {"name": "prefect-server", "namespace": "prefect"},
        "spec": {
            "parentRefs": [{"name": "prefect-server", "sectionName": "https"}],
            "hostnames": ["api.example.com", "app.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [{"name": backend, "port": 4200}],
                }  # fmt: skip
            ],
        },
        "status": {"parents": parents_status if parents_status is not None else [_parent("True", "True")]},
    }


def _parent(accepted: str, resolved: str, reason: str = "ResolvedRefs") -> dict:
    return {
        "parentRef": {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "prefect-server",
            "namespace": "prefect",
            "sectionName": "https",
        },  # fmt: skip
        "controllerName": "istio.io/gateway-controller",
        "conditions": [_condition("Accepted", accepted, "Accepted"), _condition("ResolvedRefs", resolved, reason)],
    }


def test_a_programmed_gateway_of_an_accepted_class_serves_and_names_its_address():
    edge = GatewayApiEdge.parse([_class()], [_gateway()], [_route()])
    assert edge.problems() == []
    assert [g.ref for g in edge.prefect_gateways] == ["prefect/prefect-server"]
    assert edge.prefect_gateways[0].addresses == ("203.0.113.10",)
    assert "Programmed, 203.0.113.10" in edge.describe() and "Accepted" in edge.describe()


def test_a_gateway_not_programmed_is_named_with_its_reason():
    edge = GatewayApiEdge.parse([_class()], [_gateway("False", "NoResources")], [_route()])
    (problem,) = edge.problems()
    assert problem == (
        "Gateway prefect/prefect-server (class istio) is not Programmed (NoResources: no data-plane replica)"
    )


def test_a_class_no_controller_reported_on_and_a_missing_gateway_are_problems():
    edge = GatewayApiEdge.parse([_class(accepted=None)], [_gateway()], [_route()])
    assert edge.problems() == [
        "GatewayClass istio (istio.io/gateway-controller): no Accepted condition (no controller has reported on it)"
    ]
    edge = GatewayApiEdge.parse([_class()], [], [_route()])
    missing = "Gateway prefect/prefect-server, named by HTTPRoute prefect/prefect-server, does not exist"
    assert edge.problems() == [missing]


def test_route_parents_read_accepted_and_resolved_refs_per_parent():
    route = parse_http_route(_route([_parent("True", "False", "BackendNotFound")]))
    (parent,) = route.parents
    assert parent.accepted and not parent.resolved
    assert "not ResolvedRefs (BackendNotFound)" in parent.describe()
    assert [str(b) for b in route.backends] == ["prefect/prefect-server:4200"]
    assert route.rules[0].prefixes == ("/",)
    unreported = parse_http_route(_route([]))
    assert not unreported.parents[0].accepted
    assert "no Accepted condition" in unreported.parents[0].describe()


def test_hostnames_and_wildcards():
    route = parse_http_route(_route())
    assert route.serves_host("api.example.com") and not route.serves_host("api.other.test")
    assert host_matches("*.example.com", "api.example.com")
    assert not host_matches("*.example.com", "example.com")
    assert not host_matches("*.example.com", "api.example.org")


def test_listeners_and_gateway_without_status():
    gateway = parse_gateway(_gateway())
    assert gateway.listeners[0].attached_routes == 1 and gateway.listeners[0].hostname == "*.example.com"
    bare = parse_gateway({"metadata": {"name": "g", "namespace": "n"}, "spec": {"gatewayClassName": "istio"}})
    assert not bare.programmed and bare.addresses == ()
    assert "no Programmed condition" in bare.describe()


def test_a_route_rule_is_live_only_attached_and_with_every_backend_ready():
    from readiness.probes.mesh import GatewayApiRoute, Route

    ready = Route("HTTPRoute prefect/r", "api.example.com", None, "prefect-server.prefect.svc.cluster.local", 4200,
                  True, True, 2)  # fmt: skip
    empty = Route("HTTPRoute prefect/r", "api.example.com", None, "canary.prefect.svc.cluster.local", 4200,
                  True, True, 0)  # fmt: skip
    live = GatewayApiRoute("prefect/r", "api.example.com", "/", ("Gateway prefect/g: Accepted, ResolvedRefs",), True,
                           (ready,))  # fmt: skip
    assert live.live
    backend = "prefect-server.prefect.svc.cluster.local:4200 ok, 2 ready endpoints"
    assert str(live) == f"api.example.com/ -> [{backend}] (HTTPRoute prefect/r)"
    dead = GatewayApiRoute("prefect/r", "api.example.com", "/", (), True, (ready, empty))
    assert not dead.live and "canary.prefect.svc.cluster.local:4200 no ready endpoints" in str(dead)
    refused = ("Gateway prefect/g: not Accepted (NotAllowedByListeners)",)
    detached = GatewayApiRoute("prefect/r", "api.example.com", "/", refused, False, (ready,))
    assert not detached.live and "not attached: Gateway prefect/g: not Accepted" in str(detached)
