"""Istio around Prefect: the control plane runs, mTLS is STRICT everywhere, every pod is in the mesh,
authorization is enforced and the Gateway and VirtualServices route to live Services."""

from __future__ import annotations

import pytest

from readiness.core.expect import CheckError
from readiness.core.humanize import listing, plural, show
from readiness.probes.mesh import plaintext_probe, refused_without_credentials
from readiness.probes.tls import unverified_context


@pytest.mark.requirement("MESH-CONTROL-PLANE")
def test_istiod_is_available_and_the_crds_are_served(mesh, params, expect, mesh_evidence):
    plane = mesh.control_plane()
    evidence = {**mesh_evidence, **plane.evidence}
    missing = sorted(set(params["crds"]) - set(plane.crds))
    expect.true(
        "Istio CRDs served",
        not missing,
        observed=f"missing {show(missing)}" if missing else sorted(plane.crds),
        expected=sorted(params["crds"]),
        evidence=evidence,
    )
    expect.at_least(f"ready istiod replicas in {plane.namespace}", plane.ready_replicas, 1, evidence=evidence)
    expect.true("istiod Deployment Available", plane.available, evidence=evidence)
    expect.version_at_least(
        "istiod version",
        plane.version,
        params["min_version"],
        evidence=evidence,
        observed_text=f"istiod {show(plane.version)} in {plane.namespace}: Available, "
        f"{plural(plane.ready_replicas or 0, 'ready replica')}; {plural(len(params['crds']), 'Istio CRD')} served",
        expected_text=f"istiod at least {params['min_version']}, Available with at least 1 ready replica; "
        f"the Istio CRDs {listing(sorted(params['crds']))} served",
    )


@pytest.mark.requirement("MESH-MTLS-STRICT")
def test_every_prefect_workload_port_accepts_only_mtls(mesh, expect, mesh_evidence):
    modes, overrides, evidence = mesh.mtls()
    if not modes:
        pytest.skip(f"no Deployments in namespace {mesh.namespace}: nothing to check")
    evidence = {**mesh_evidence, **evidence, "effective": [str(m) for m in modes]}
    lax = [str(m) for m in modes if m.mode != "STRICT"]
    expect.true(
        "effective PeerAuthentication mode of each Prefect workload and port",
        not lax,
        observed=lax or f"STRICT on all {len(modes)}",
        expected="STRICT",
        evidence=evidence,
    )
    expect.true(
        "DestinationRules towards Prefect Services keep Istio mTLS",
        not overrides,
        observed=[str(o) for o in overrides] or "none override it",
        expected="no tls mode other than ISTIO_MUTUAL",
        evidence=evidence,
    )


@pytest.mark.requirement("MESH-SIDECARS")
def test_prefect_pods_carry_the_proxy(mesh, expect, mesh_evidence):
    enrollment = mesh.enrollment()
    evidence = {**mesh_evidence, **enrollment.evidence}
    expect.true(
        f"namespace {enrollment.namespace} enrolled in the mesh",
        enrollment.mode is not None,
        observed=enrollment.mode or f"labels {show(enrollment.labels)}",
        expected="istio-injection=enabled, istio.io/rev or istio.io/dataplane-mode=ambient",
        evidence=evidence,
    )
    expect.true(
        "running Prefect pods with the istio-proxy sidecar (or ambient capture)",
        not enrollment.without_proxy,
        observed=f"without proxy: {show(enrollment.without_proxy)}" if enrollment.without_proxy else enrollment.pods,
        expected="every pod",
        evidence=evidence,
    )


@pytest.mark.requirement("MESH-AUTHZ")
def test_authorization_policies_protect_prefect(mesh, targets, probe_timeout, expect, mesh_evidence):
    authz = mesh.authorization()
    evidence = {**mesh_evidence, **authz.evidence, "applying": authz.applying}
    expect.true(
        "Prefect workloads selected by an AuthorizationPolicy",
        not authz.unprotected,
        observed=f"none applies to {show(authz.unprotected)}" if authz.unprotected else authz.applying,
        expected="at least one policy per workload",
        evidence=evidence,
    )
    expect.true(
        "AuthorizationPolicies that allow every request",
        not authz.allow_all,
        observed=authz.allow_all or "none",
        expected="none",
        evidence=evidence,
    )
    issuer = targets.get("oidc.issuer")
    if issuer and authz.request_authentications:
        issuers = sorted({str(r["issuer"]) for r in authz.request_authentications})
        expect.true(
            "RequestAuthentication issuer is the SSO issuer",
            str(issuer).rstrip("/") in [i.rstrip("/") for i in issuers],
            observed=issuers,
            expected=issuer,
            evidence={**evidence, **targets.evidence("oidc.issuer")},
        )
    api_url = targets.get("prefect.api_url")
    if api_url:
        # Not verified on purpose: no credential is sent, and the certificate is the TLS-* checks' business.
        behaviour = refused_without_credentials(str(api_url), probe_timeout, unverified_context(), str(issuer or ""))
        expect.true(
            "requests through the public endpoint without credentials or with a forged token",
            behaviour.all_refused,
            observed=behaviour.statuses,
            expected="401/403 for both",
            evidence={**evidence, "requests": behaviour.evidence, **targets.evidence("prefect.api_url")},
        )


@pytest.mark.requirement("MESH-ROUTING")
def test_gateway_and_virtual_services_route_to_live_services(mesh, targets, params, expect, mesh_evidence):
    hosts = {"api": str(targets.require("edge.api_host")), "ui": str(targets.get("edge.ui_host") or "")}
    hosts = {role: host for role, host in hosts.items() if host}
    public = sorted(set(hosts.values()))
    istio_gateways, istio_routes, evidence = mesh.routes(public)
    # A Gateway API edge (the prefect-server chart's gateway.enabled) routes the hosts with HTTPRoutes.
    api_gateways, api_routes, api_evidence = mesh.http_routes(public)
    gateways = {h: istio_gateways.get(h, []) + api_gateways.get(h, []) for h in public}
    routes = [*istio_routes, *api_routes]
    evidence = {**mesh_evidence, **evidence, **api_evidence, "routes": [str(r) for r in routes],
                **targets.evidence("edge.api_host", "edge.ui_host")}  # fmt: skip
    unserved = sorted(h for h, g in gateways.items() if not g)
    expect.true("Gateways serving the public hosts", not unserved,
                observed=f"no Gateway for {show(unserved)}" if unserved else gateways, expected="each host",
                evidence=evidence)  # fmt: skip
    unrouted = []
    for role, host in hosts.items():
        path = params["paths"][role]
        if not any(r.host == host and r.live and (r.prefix is None or path.startswith(r.prefix)) for r in routes):
            unrouted.append(f"{host}{path}")
    dead = [str(r) for r in routes if not r.live]
    expect.true(
        "VirtualService and HTTPRoute routes reach Services that exist, on their ports, with ready endpoints",
        not dead and not unrouted,
        observed=(dead + [f"no live route for {u}" for u in unrouted]) or [str(r) for r in routes],
        expected=f"live routes for {listing(sorted(host + params['paths'][role] for role, host in hosts.items()))}",
        evidence=evidence,
    )


@pytest.mark.requirement("MESH-MTLS-PROBE", effect="write")
def test_plaintext_from_outside_the_mesh_is_refused(mesh, params, run_id, probe_timeout, requirement, profile, expect,
                                                   mesh_evidence):  # fmt: skip
    if not params["run"]:
        pytest.skip(
            "opt-in: this check starts a short-lived pod in the cluster; set MESH-MTLS-PROBE params.run: true "
            "in a profile that extends this one"
        )
    services = mesh.services()
    fqdn = f"{params['service']}.{mesh.namespace}.svc.cluster.local"
    if fqdn not in services:
        pytest.skip(f"no Service {params['service']} in namespace {mesh.namespace} to probe")
    port = params.get("port") or services[fqdn].spec.ports[0].port
    url = f"http://{fqdn}:{port}{params['path']}"
    result = plaintext_probe(mesh, run_id, url, params["image"], profile.timeout_for(requirement.id))
    evidence = {**mesh_evidence, "probe": result.evidence}
    expect.true("probe Job deleted with its pod", result.cleaned_up, evidence=evidence)
    if result.simulated_node:
        expect.true("probe Job ran and its pod's exit status was read", result.exit_code is not None,
                    observed=result.exit_code, expected="an exit status", evidence=evidence)  # fmt: skip
        pytest.skip(
            f"the probe pod ran on {result.node}, a simulated node (kwok) that runs no containers: its exit status "
            f"{result.exit_code} is the simulator's, not a connection attempt, so enforcement is not proven here"
        )
    if result.verdict in ("no result", "inconclusive"):
        raise CheckError(
            f"the plaintext probe gave no verdict ({result.verdict}; exit {result.exit_code}, {result.evidence['log']})"
        )
    expect.equal(f"plaintext HTTP to {url} from a pod without sidecar", result.verdict, "refused", evidence=evidence)
