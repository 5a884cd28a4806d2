"""Verdicts on a Gateway API edge (the prefect-server chart's gateway.enabled): the Gateway and HTTPRoute replace
Prefect's Ingress, the sandbox plays the controller; K8S-INGRESS-CONTROLLER, LB-ADDRESS and MESH-ROUTING pass,
and each fault on top of the edge turns exactly its own requirement.

One edge install for the module; three runs of the ingress checks and the mesh suite (the edge, then each fault).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from readiness.targets import resolve_targets
from tests.suite_run import Verdicts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SUITES = ("kubernetes/test_ingress.py", "mesh")
#: every requirement of those suites that is evaluated on the sandbox (MESH-MTLS-PROBE is opt-in: skip)
JUDGED = ("K8S-INGRESS-CONTROLLER", "K8S-INGRESS-NGINX", "LB-ADDRESS", "MESH-CONTROL-PLANE", "MESH-MTLS-STRICT",
          "MESH-SIDECARS", "MESH-AUTHZ", "MESH-ROUTING")  # fmt: skip
FAULTS = {
    "gateway-not-programmed": ("K8S-INGRESS-CONTROLLER", "not Programmed (NoResources"),
    "httproute-no-endpoints": (
        "MESH-ROUTING",
        "prefect-server-canary.prefect.svc.cluster.local:4200 no ready endpoints",
    ),
}


@pytest.fixture(scope="module")
def edge(suites) -> Iterator[dict[str | None, Verdicts]]:
    """Runs on the Gateway API edge (key None) and under each fault on top of it; the edge stays applied
    for the module's tests and is reverted at its end."""
    with suites.scenario("gateway-api-edge"):
        runs: dict[str | None, Verdicts] = {None: suites.run(*SUITES)}
        for fault in FAULTS:
            with suites.scenario(fault):
                runs[fault] = suites.run(*SUITES)
        yield runs


def test_a_gateway_api_edge_that_serves_passes_the_ingress_load_balancer_and_routing_checks(edge):
    verdicts = edge[None]
    for requirement in JUDGED:
        assert verdicts.outcome(requirement) == "pass", verdicts.explain(requirement)
    assert verdicts.code == 0, verdicts.output[-3000:]
    results = verdicts.results
    controller = results["K8S-INGRESS-CONTROLLER"]["observed"]
    assert "HTTPRoute prefect/prefect-server on Gateway prefect/prefect-server (class istio): Programmed" in controller
    assert "GatewayClass istio (istio.io/gateway-controller): Accepted" in controller
    gateway_api = results["K8S-INGRESS-CONTROLLER"]["evidence"]["gateway_api"]
    assert gateway_api["http_routes"]["prefect/prefect-server"]["backends"] == ["prefect/prefect-server:4200"]
    assert "Gateway prefect/prefect-server (Gateway API, class istio): 203.0.113.10" in str(
        results["LB-ADDRESS"]["observed_value"]
    )
    routing = results["MESH-ROUTING"]["observed"]
    for host in ("api.prefect.sandbox.test", "app.prefect.sandbox.test"):
        assert f"{host}/ -> [prefect-server.prefect.svc.cluster.local:4200 ok" in routing, routing
    assert "(HTTPRoute prefect/prefect-server)" in routing


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_gateway_api_fault_fails_its_requirement_and_nothing_else(edge, fault):
    requirement, words = FAULTS[fault]
    verdicts = edge[fault]
    assert verdicts.outcome(requirement) == "fail", verdicts.explain(requirement)
    assert words in verdicts.results[requirement]["observed"], verdicts.results[requirement]["observed"]
    others = {r: verdicts.outcome(r) for r in JUDGED if r != requirement and verdicts.outcome(r) != "pass"}
    assert not others, others
    assert verdicts.code == 1


def test_discovery_reads_the_hosts_from_the_httproute_and_the_address_from_the_gateway(edge, sandbox):
    # Only the kubeconfig, and no Ingress for Prefect: the hosts and address come from the Gateway API objects.
    targets = resolve_targets(environ={"KUBECONFIG": str(sandbox.ctx.root / "kubeconfig")})
    assert targets.get("edge.api_host") == "api.prefect.sandbox.test"
    assert targets.get("edge.ui_host") == "app.prefect.sandbox.test"
    assert targets.source("edge.api_host") == "discovered: HTTPRoute prefect/prefect-server hostnames"
    assert targets.get("edge.lb_address") == "203.0.113.10"
    assert targets.source("edge.lb_address") == "discovered: Gateway prefect/prefect-server status.addresses"
