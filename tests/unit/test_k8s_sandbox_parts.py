"""Pieces of the Kubernetes sandbox that need no running cluster: binaries lookup, manifests, scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from readiness.sandbox.kubernetes import binaries, manifests
from readiness.sandbox.kubernetes.component import KubernetesComponent, _default_revert
from readiness.sandbox.kubernetes.kube import Ref
from readiness.sandbox.kubernetes.manifests import NodePool, NodeShape
from readiness.sandbox.kubernetes.pki import ensure_pki


def _fake_binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_kubebuilder_assets_win_over_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = tmp_path / "assets"
    for name in ("kube-apiserver", "etcd", "kubectl"):
        _fake_binary(assets / name)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    monkeypatch.delenv("TEST_ASSET_KUBE_APISERVER", raising=False)
    assert binaries._find("kube-apiserver") == assets / "kube-apiserver"
    assert binaries._find("etcd") == assets / "etcd"
    override = _fake_binary(tmp_path / "other" / "apiserver")
    monkeypatch.setenv("TEST_ASSET_KUBE_APISERVER", str(override))
    assert binaries._find("kube-apiserver") == override


def test_version_comes_from_the_pinned_go_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8S_VERSION", raising=False)
    version = binaries.k8s_version()
    assert version.startswith("v1.") and binaries.cache_dir().name == version


def test_node_pool_shape_and_addressing() -> None:
    pool = NodePool.load()
    assert pool.count == 3
    node = pool.node(0, NodeShape(), "v1.34.4")
    labels = node["metadata"]["labels"]
    assert node["metadata"]["name"] == "ip-10-0-0-10.ec2.internal"
    assert labels["node.kubernetes.io/instance-type"] == "m5.2xlarge"
    assert labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert node["status"]["capacity"]["cpu"] == "8" and node["status"]["capacity"]["memory"] == "32Gi"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    names = {pool.name(i) for i in range(5000)}
    assert len(names) == 5000
    small = pool.node(1, NodeShape(capacity={"cpu": "4", "memory": "8Gi"}), "v1.34.4")
    assert small["status"]["capacity"]["memory"] == "8Gi"
    assert small["metadata"]["labels"]["topology.kubernetes.io/zone"] == "us-east-1b"


def test_every_scenario_is_a_small_patch_with_a_description() -> None:
    known = manifests.scenarios()
    assert set(known) == set(KubernetesComponent.scenarios)
    assert {
        "two-nodes",
        "small-nodes",
        "no-autoscaler",
        "no-storageclass",
        "no-ingress-controller",
        "lb-pending",
        "mtls-permissive",
        "no-authz-policy",
        "missing-sidecar",
        "prefect-crashloop",
    } <= set(known)
    for scenario in known.values():
        assert scenario.description and scenario.apply
        revert = scenario.revert if scenario.revert is not None else _default_revert(scenario.apply)
        for op in revert:
            if "restore" in op:
                assert manifests.base_object(Ref.parse(op["restore"])) is not None, scenario.name


def test_manifests_are_plain_yaml_with_the_conformant_objects() -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in manifests.cluster_objects()}
    for expected in (
        ("StorageClass", "gp3"),
        ("IngressClass", "nginx"),
        ("Deployment", "ingress-nginx-controller"),
        ("Deployment", "cluster-autoscaler"),
        ("ConfigMap", "cluster-autoscaler-status"),
        ("Deployment", "istiod"),
        ("PeerAuthentication", "default"),
        ("RequestAuthentication", "prefect-jwt"),
        ("Deployment", "prefect-server"),
        ("Deployment", "prefect-worker"),
        ("Ingress", "prefect-server"),
        ("Gateway", "prefect-gateway"),
    ):
        assert expected in kinds
    stages = [d for d in yaml.safe_load_all(manifests.kwok_config_path().read_text()) if d["kind"] == "Stage"]
    assert "pod-crashloop" in {s["metadata"]["name"] for s in stages}


def test_pki_is_made_once_and_tokens_are_per_identity(tmp_path: Path) -> None:
    counter = iter(range(100))
    pki = ensure_pki(tmp_path / "pki", lambda name: f"token-{name}-{next(counter)}")
    first = pki.ca_cert.read_bytes()
    again = ensure_pki(tmp_path / "pki", lambda name: "other")
    assert again.ca_cert.read_bytes() == first
    assert pki.token("admin") != pki.token("kwok")
    assert oct(pki.sa_key.stat().st_mode & 0o777) == "0o600"


def test_the_gateway_api_edge_serves_the_hosts_of_the_ingress_it_replaces_from_the_same_service() -> None:
    from readiness.sandbox.kubernetes import gateway_api

    objects = {o["kind"]: o for o in gateway_api.edge_objects()}
    assert set(objects) == {"GatewayClass", "Gateway", "HTTPRoute"}
    assert objects["GatewayClass"]["spec"]["controllerName"] == gateway_api.CONTROLLER
    assert objects["Gateway"]["spec"]["gatewayClassName"] == objects["GatewayClass"]["metadata"]["name"]
    ingress = manifests.base_object(Ref("networking.k8s.io/v1", "Ingress", "prefect-server", "prefect"))
    assert ingress is not None
    hosts = sorted(rule["host"] for rule in ingress["spec"]["rules"])
    assert sorted(objects["HTTPRoute"]["spec"]["hostnames"]) == hosts
    assert sorted(li["hostname"] for li in objects["Gateway"]["spec"]["listeners"]) == hosts
    listeners = {li["name"] for li in objects["Gateway"]["spec"]["listeners"]}
    parents = objects["HTTPRoute"]["spec"]["parentRefs"]
    assert {p["sectionName"] for p in parents} == listeners
    assert {p["name"] for p in parents} == {objects["Gateway"]["metadata"]["name"]}
    (backend,) = [b for rule in objects["HTTPRoute"]["spec"]["rules"] for b in rule["backendRefs"]]
    service = manifests.base_object(Ref("v1", "Service", backend["name"], "prefect"))
    assert service is not None and backend["port"] in [p["port"] for p in service["spec"]["ports"]]
    assert gateway_api.default_address() == "203.0.113.10"


# -- the helm layout ---------------------------------------------------------------------------------
def test_the_helm_layout_lays_prefect_out_as_the_charts_render_it(tmp_path: Path) -> None:
    """Every Prefect object carries the charts' labels; the server and background services take the database URL,
    the API auth string and the Redis password from Secrets (never inline); the worker polls the sandbox's pool."""
    from readiness.sandbox.base import SandboxContext
    from readiness.sandbox.kubernetes import layout
    from readiness.sandbox.services.common import PREFECT_WORK_POOL

    ctx = SandboxContext(tmp_path)
    KubernetesComponent(ctx)  # sets the manifests' values (ports, chart version, work pool)
    objs = [manifests.substitute(o) for o in manifests.cluster_objects("helm")]
    prefect = {(o["kind"], o["metadata"]["name"]): o for o in objs if o["metadata"].get("namespace") == "prefect"}
    deployments = {name: o for (kind, name), o in prefect.items() if kind == "Deployment"}
    assert set(deployments) == {"prefect-server", "prefect-server-background-services", "prefect-worker"}
    for (kind, name), obj in prefect.items():
        if kind in ("Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "Ingress"):
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "Helm", name
            assert labels["helm.sh/chart"] == f"{labels['app.kubernetes.io/name']}-{layout.CHART_VERSION}", name
    components = {n: d["metadata"]["labels"]["app.kubernetes.io/component"] for n, d in deployments.items()}
    assert components == {"prefect-server": "server", "prefect-server-background-services": "background-services",
                          "prefect-worker": "worker"}  # fmt: skip
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        for variable in ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_REDIS_MESSAGING_PASSWORD",
                         "PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING"):  # fmt: skip
            if variable in env:
                assert "value" not in env[variable], (name, variable)
        if name != "prefect-worker":
            ref = env["PREFECT_SERVER_DATABASE_CONNECTION_URL"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": layout.DATABASE_SECRET, "key": "connection-string"}
    assert "--no-services" in deployments["prefect-server"]["spec"]["template"]["spec"]["containers"][0]["args"]
    worker_args = deployments["prefect-worker"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert worker_args[worker_args.index("--pool") + 1] == PREFECT_WORK_POOL
    # The default layout is untouched: no background-services Deployment, its own Secrets.
    default = {(o["kind"], o["metadata"]["name"]) for o in manifests.cluster_objects("default")}
    assert ("Deployment", "prefect-server-background-services") not in default
    # Switching to the default layout deletes what only the helm layout has, and nothing both have.
    stale = {(r.kind, r.name) for r in layout.stale_refs(ctx, "default")}
    assert ("Deployment", "prefect-server-background-services") in stale
    assert ("Secret", layout.DATABASE_SECRET) in stale and ("Deployment", "prefect-server") not in stale
    # ... and switching to the helm layout deletes the Ingress: its edge is the Gateway API one (gateway_api.py).
    assert ("Ingress", "prefect-server") in {(r.kind, r.name) for r in layout.stale_refs(ctx, "helm")}
    secrets = layout.secrets(ctx, "helm")
    assert {s["metadata"]["name"] for s in secrets} == {layout.DATABASE_SECRET, layout.AUTH_SECRET, layout.REDIS_SECRET}
    assert layout.secrets(ctx, "default") == []


def test_helm_layout_scenarios_refuse_the_default_layout() -> None:
    assert manifests.scenarios()["background-services-crashloop"].layout == "helm"
    assert manifests.scenarios()["prefect-crashloop"].layout is None
