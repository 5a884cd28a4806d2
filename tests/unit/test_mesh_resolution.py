"""Istio's resolution rules as the mesh probe applies them, on object sets built in code."""

from __future__ import annotations

from readiness.probes.mesh import (
    Workload,
    allows_everything,
    destination_rule_overrides,
    effective_mtls,
    host_matches,
    policies_for,
    route_targets,
)

ROOT = "istio-system"
SERVER = Workload("prefect", "prefect-server", {"app": "prefect-server"}, [4200, 8080])


def peer(namespace, name, mode=None, selector=None, ports=None, created="2026-01-01T00:00:00Z"):
    spec = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in ports.items()}
    meta = {"namespace": namespace, "name": name, "creationTimestamp": created}
    return {"kind": "PeerAuthentication", "metadata": meta, "spec": spec}


def modes(policies):
    return {m.port: (m.mode, m.decided_by) for m in effective_mtls(SERVER, policies, ROOT)}


def test_nothing_at_all_is_permissive_by_istio_default():
    assert {p: m for p, (m, _) in modes([]).items()} == {4200: "PERMISSIVE", 8080: "PERMISSIVE"}


def test_mesh_wide_strict_applies_to_every_port_and_names_the_object():
    result = modes([peer(ROOT, "default", "STRICT")])
    assert result[4200] == ("STRICT", "PeerAuthentication istio-system/default (mesh-wide)")
    assert result[8080][0] == "STRICT"


def test_a_selector_in_the_root_namespace_is_not_mesh_wide():
    assert modes([peer(ROOT, "only-some", "STRICT", selector={"app": "prefect-server"})])[4200][0] == "PERMISSIVE"


def test_namespace_overrides_mesh_and_unset_inherits():
    result = modes([peer(ROOT, "default", "STRICT"), peer("prefect", "ns", "PERMISSIVE")])
    assert result[4200] == ("PERMISSIVE", "PeerAuthentication prefect/ns (namespace)")
    inherited = modes([peer(ROOT, "default", "STRICT"), peer("prefect", "ns", "UNSET")])
    assert inherited[4200][0] == "STRICT"


def test_workload_selector_overrides_namespace_only_for_matching_labels():
    policies = [
        peer("prefect", "ns", "PERMISSIVE"),
        peer("prefect", "server", "STRICT", selector={"app": "prefect-server"}),
    ]
    assert modes(policies)[4200] == ("STRICT", "PeerAuthentication prefect/server (workload)")
    other = [peer("prefect", "ns", "PERMISSIVE"), peer("prefect", "worker", "STRICT", selector={"app": "worker"})]
    assert modes(other)[4200][0] == "PERMISSIVE"


def test_port_level_override_wins_for_that_port_only():
    policies = [
        peer(ROOT, "default", "STRICT"),
        peer("prefect", "server", None, selector={"app": "prefect-server"}, ports={8080: "DISABLE"}),
    ]
    result = modes(policies)
    assert result[8080] == ("DISABLE", "PeerAuthentication prefect/server (port 8080)")
    assert result[4200] == ("STRICT", "PeerAuthentication istio-system/default (mesh-wide)")


def test_the_oldest_of_conflicting_namespace_policies_wins():
    policies = [
        peer("prefect", "newer", "PERMISSIVE", created="2026-05-01T00:00:00Z"),
        peer("prefect", "older", "STRICT", created="2026-01-01T00:00:00Z"),
    ]
    assert modes(policies)[4200][1] == "PeerAuthentication prefect/older (namespace)"


def test_a_workload_without_ports_gets_one_answer():
    worker = Workload("prefect", "prefect-worker", {"app": "worker"}, [])
    [only] = effective_mtls(worker, [peer(ROOT, "default", "STRICT")], ROOT)
    assert (only.port, only.mode) == (None, "STRICT")


def rule(namespace, name, host, mode=None, port_modes=None):
    policy = {}
    if mode:
        policy["tls"] = {"mode": mode}
    if port_modes:
        policy["portLevelSettings"] = [{"port": {"number": p}, "tls": {"mode": m}} for p, m in port_modes.items()]
    return {"kind": "DestinationRule", "metadata": {"namespace": namespace, "name": name},
            "spec": {"host": host, "trafficPolicy": policy}}  # fmt: skip


FQDN = "prefect-server.prefect.svc.cluster.local"


def test_destination_rule_disable_turns_mtls_off_for_the_host_and_istio_mutual_does_not():
    found = destination_rule_overrides([rule("prefect", "off", "prefect-server", "DISABLE")], [FQDN])
    assert [str(o) for o in found] == [f"DestinationRule prefect/off sends DISABLE to {FQDN}"]
    assert destination_rule_overrides([rule("prefect", "on", FQDN, "ISTIO_MUTUAL")], [FQDN]) == []


def test_destination_rule_port_level_and_wildcard_hosts():
    found = destination_rule_overrides([rule("other", "wild", "*.prefect.svc.cluster.local", None, {4200: "SIMPLE"})],
                                       [FQDN])  # fmt: skip
    assert [(o.port, o.mode) for o in found] == [(4200, "SIMPLE")]
    assert destination_rule_overrides([rule("other", "elsewhere", "redis.other.svc.cluster.local", "DISABLE")],
                                      [FQDN]) == []  # fmt: skip


def test_host_forms():
    assert host_matches("prefect-server", FQDN, "prefect")
    assert not host_matches("prefect-server", FQDN, "default")
    assert host_matches("prefect-server.prefect", FQDN, "default")
    assert host_matches("*", FQDN, "x")


def authz(namespace, name, spec):
    return {"kind": "AuthorizationPolicy", "metadata": {"namespace": namespace, "name": name}, "spec": spec}


def test_which_authorization_policies_apply():
    policies = [
        authz("prefect", "deny-all", {}),
        authz("prefect", "server", {"selector": {"matchLabels": {"app": "prefect-server"}}, "rules": [{"to": []}]}),
        authz("prefect", "worker", {"selector": {"matchLabels": {"app": "worker"}}}),
        authz(ROOT, "mesh", {"action": "DENY", "rules": [{"from": [{"source": {"notNamespaces": ["prefect"]}}]}]}),
    ]
    names = [p["metadata"]["name"] for p in policies_for(SERVER, policies, ROOT)]
    assert names == ["deny-all", "server", "mesh"]


def test_allow_all_is_an_empty_rule_and_deny_all_is_no_rules():
    assert allows_everything(authz("prefect", "open", {"rules": [{}]}))
    assert not allows_everything(authz("prefect", "deny-all", {}))
    assert not allows_everything(authz("prefect", "deny", {"action": "DENY", "rules": [{}]}))
    assert not allows_everything(authz("prefect", "some", {"rules": [{"from": [{"source": {"principals": ["a"]}}]}]}))


def test_route_targets_by_host_and_prefix():
    vs = {"kind": "VirtualService", "metadata": {"namespace": "prefect", "name": "api"},
          "spec": {"hosts": ["api.example.com"], "http": [
              {"match": [{"uri": {"prefix": "/api"}}], "route": [{"destination": {"host": "prefect-server",
                                                                             "port": {"number": 4200}}}]},
              {"route": [{"destination": {"host": "ui.web"}}]}]}}  # fmt: skip
    assert route_targets(vs, "api.example.com") == [
        ("/api", FQDN, 4200),
        (None, "ui.web.svc.cluster.local", None),
    ]
    assert route_targets(vs, "app.example.com") == []


def test_the_probe_job_stays_outside_the_mesh_and_its_exit_codes_read_as_verdicts():
    from readiness.probes.mesh import ANSWERED, INCONCLUSIVE, REFUSED, probe_job, read_probe_exit

    job = probe_job("readiness-mtls-probe-x", "prefect", "run-1", "http://s.prefect.svc.cluster.local:4200/", "img", 5)
    template = job["spec"]["template"]
    assert template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    assert job["metadata"]["labels"]["readiness.prefect.io/run-id"] == "run-1"
    assert job["spec"]["backoffLimit"] == 0 and template["spec"]["restartPolicy"] == "Never"
    assert "--max-time 5" in template["spec"]["containers"][0]["command"][2]
    assert [read_probe_exit(c) for c in (REFUSED, ANSWERED, INCONCLUSIVE, None, 137)] == [
        "refused", "answered", "inconclusive", "no result", "no result"
    ]  # fmt: skip
