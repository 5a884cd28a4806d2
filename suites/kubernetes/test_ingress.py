"""Ingress: a running controller (ingress-nginx the baseline) in front of Prefect, and its load balancer."""

from __future__ import annotations

import pytest


@pytest.fixture
def ingress(kube):
    return kube.memo("ingress", lambda: kube.cluster.ingress(kube.ingress_namespace, kube.prefect_namespace))


@pytest.mark.requirement("K8S-INGRESS-CONTROLLER")
def test_an_ingress_controller_serves_prefect(ingress, expect):
    evidence = ingress.evidence()
    edge = ingress.gateway_api
    if edge.routes:  # Prefect exposed through the Gateway API: its Gateways must be programmed by a controller
        problems = edge.problems()
        expect.true(
            "Gateway API edge of Prefect",
            not problems,
            observed="; ".join(problems) or edge.describe(),
            expected="Programmed Gateways of an Accepted GatewayClass",
            evidence=evidence,
            observed_text="; ".join(problems) or edge.describe(),
            expected_text="every Gateway that Prefect's HTTPRoutes attach to Programmed by its controller, "
            "and its GatewayClass Accepted",
        )
        if not ingress.prefect_ingresses:
            return  # no Ingress for Prefect: an ingress controller is not what serves it
    expect.true(
        f"ingress controllers with Ready pods in namespace {ingress.namespace}",
        bool(ingress.running_controllers),
        observed=[w.describe() for w in ingress.controllers] or "no controller Deployment/DaemonSet",
        expected="at least one with Ready pods",
        evidence=evidence,
    )
    expect.true(
        "IngressClasses served by a running controller",
        bool(ingress.served_classes),
        observed=[c.name for c in ingress.served_classes]
        or [f"{c.name} -> {c.controller}" for c in ingress.classes]
        or "no IngressClass",
        expected="at least one",
        evidence=evidence,
    )
    expect.true(
        "Prefect Ingress, Istio Gateway or HTTPRoute on a running controller",
        bool(ingress.prefect_routes),
        observed=[e.describe() for e in ingress.prefect_routes] or [e.describe() for e in ingress.exposures] or "none",
        expected="at least one",
        evidence=evidence,
    )


@pytest.mark.requirement("K8S-INGRESS-NGINX")
def test_the_ingress_controller_is_ingress_nginx(ingress, expect, params):
    running = sorted(ingress.running_controller_classes)
    if not running:
        pytest.skip("no ingress controller runs (K8S-INGRESS-CONTROLLER reports it)")
    baseline = set(params["controllers"])
    expect.true(
        "ingress controller in use",
        bool(baseline & set(running)),
        observed=running,
        expected=f"the baseline {', '.join(sorted(baseline))}",
        evidence=ingress.evidence(),
    )


@pytest.mark.requirement("LB-ADDRESS")
def test_the_load_balancer_in_front_of_the_ingress_has_an_address(ingress, expect):
    with_address = [lb.describe() for lb in ingress.load_balancers if lb.addresses]
    with_address += [f"{e.describe()} (L7): {', '.join(e.addresses)}" for e in ingress.l7_addresses]
    with_address += ingress.gateway_addresses
    without = [lb.describe() for lb in ingress.load_balancers]
    without += [g.describe() for g in ingress.gateway_api.prefect_gateways]
    expect.true(
        "load balancers in front of the ingress with an external address",
        bool(with_address),
        observed=with_address or without or "no LoadBalancer Service",
        expected="at least one (L4 Service type LoadBalancer, an L7 cloud Ingress, or the Gateway of Prefect's "
        "HTTPRoutes)",
        evidence=ingress.evidence(),
    )
