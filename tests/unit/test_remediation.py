"""Remediation with the install's own names: each family's fix names what the run observed and gives the
command to paste (EKS, GKE, AKS, Karpenter, ElastiCache, RDS, Memorystore, Cloud SQL, Azure), never a
placeholder; the profile's generic text stays where the run saw nothing to name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from readiness.core.model import CheckResult, Observation, Outcome
from readiness.core.profile import load_profile
from readiness.core.redact import Redactor
from readiness.core.waivers import WaiverDecision
from readiness.report.model import build_report
from readiness.report.remediation import PLACEHOLDER, Context, render
from tests.report_wording import observed_names, remediation_problems


def observation(evidence: dict[str, Any], label: str = "x", observed: Any = None, met: bool = False) -> dict:
    return {"label": label, "observed": observed, "expected": None, "met": met, "evidence": evidence}


def group(name: str, label: str, instance_type: str = "c5.xlarge", vcpu: float = 4, memory: float = 8,
          kubelet: str = "v1.34.4") -> dict:  # fmt: skip
    return {"name": name, "label": label, "instance_type": instance_type, "vcpu": vcpu, "memory_gib": memory,
            "nodes": 3, "usable": 3, "node_names": [f"{name}-a", f"{name}-b"],
            "kubelet_versions": [kubelet]}  # fmt: skip


PARAMS = {rid: req.params or {} for rid, req in load_profile("base").requirements.items()}


def context(cloud: str | None = None, **targets: Any) -> Context:
    catalog = load_profile(cloud).catalog if cloud else {}
    return Context(cloud=cloud, targets=targets, catalog=catalog, params=PARAMS)


def nodes_evidence(*groups: dict) -> dict:
    return {"nodes_total": 3, "nodes_usable": 3, "excluded": {}, "groups": [], "node_groups": list(groups)}


# -- node groups and pools ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "cloud", "targets", "expected"),
    [
        ("eks.amazonaws.com/nodegroup", "aws", {"cloud.cluster": "prod-eks", "cloud.region": "eu-west-1"},
         "eksctl scale nodegroup --cluster prod-eks --region eu-west-1 --name workers --nodes 3 --nodes-min 3"),
        ("cloud.google.com/gke-nodepool", "gcp", {"cloud.cluster": "prod-gke", "cloud.region": "europe-west1",
                                                  "cloud.project": "acme-prefect"},
         "gcloud container clusters resize prod-gke --node-pool workers --num-nodes 3 --location europe-west1 "
         "--project acme-prefect"),
        ("kubernetes.azure.com/agentpool", "azure", {"cloud.cluster": "prod-aks", "cloud.resource_group": "prefect-rg"},
         "az aks nodepool scale --resource-group prefect-rg --cluster-name prod-aks --name workers --node-count 3"),
        ("karpenter.sh/nodepool", "aws", {"cloud.cluster": "prod-eks"}, "kubectl get nodepool workers -o yaml"),
    ],
)  # fmt: skip
def test_node_count_scales_the_cloud_node_group_by_name(label, cloud, targets, expected):
    small = group("workers", label)
    small["nodes"] = 2
    text = render("K8S-NODE-COUNT", [observation(nodes_evidence(small), observed=2)], context(cloud, **targets))
    assert text is not None and f"`{expected}`" in text, text
    assert not PLACEHOLDER.search(text)


def test_the_nodes_own_labels_decide_the_platform_over_the_profile():
    # a GKE node pool under the sandbox profile: the node label says GKE
    text = render("K8S-NODE-SIZE", [observation(nodes_evidence(group("pool-1", "cloud.google.com/gke-nodepool")))],
                  context(None, **{"cloud.cluster": "c1"}))  # fmt: skip
    assert "gcloud container node-pools update pool-1 --cluster c1 --machine-type n2-standard-8" in str(text)


def test_an_unknown_cluster_name_says_which_targets_key_supplies_it():
    text = render("K8S-NODE-SIZE", [observation(nodes_evidence(group("ng-1", "eks.amazonaws.com/nodegroup")))],
                  context("aws"))  # fmt: skip
    assert text is not None
    assert "EKS node group ng-1" in text and "c6i.2xlarge" in text  # the aws catalog's smallest 8 vCPU / 16 GiB
    assert "set cloud.cluster in the targets file" in text
    assert not PLACEHOLDER.search(text)


def test_cordoned_and_tainted_nodes_are_named_with_the_command_that_frees_them():
    evidence = nodes_evidence(group("ng-1", "eks.amazonaws.com/nodegroup"))
    evidence["excluded"] = {"ip-10-0-0-10.ec2.internal": "cordoned (unschedulable)",
                            "ip-10-0-0-11.ec2.internal": "tainted dedicated=gpu-batch:NoSchedule"}  # fmt: skip
    text = str(render("K8S-NODE-COUNT", [observation(evidence, observed=1)], context("aws")))
    assert "`kubectl uncordon ip-10-0-0-10.ec2.internal`" in text
    assert "`kubectl taint nodes ip-10-0-0-11.ec2.internal dedicated=gpu-batch:NoSchedule-`" in text


def test_old_kubelets_upgrade_their_node_pool():
    evidence = {"server": "v1.34.4", "kubelets": {"v1.29.15": 3},
                "node_groups": [group("pool-a", "kubernetes.azure.com/agentpool", kubelet="v1.29.15")]}  # fmt: skip
    text = str(render("K8S-VERSION", [observation(evidence)],
                      context("azure", **{"cloud.cluster": "aks-1", "cloud.resource_group": "rg-1"})))  # fmt: skip
    assert ("az aks nodepool upgrade --resource-group rg-1 --cluster-name aks-1 --name pool-a --kubernetes-version "
            "1.34") in text  # fmt: skip


def test_a_fixed_size_autoscaler_group_gets_a_higher_max():
    evidence = {"sources": ["cluster-autoscaler (managed)"], "autoscaler_groups": [],
                "eks_nodegroups": ["prefect-pool [eks] (min 3, max 3, now 3)"],
                "node_group_labels": {"prefect-pool": "eks.amazonaws.com/nodegroup"}}  # fmt: skip
    text = str(render("K8S-AUTOSCALING", [observation(evidence)], context("aws", **{"cloud.cluster": "c-1"})))
    assert ("aws eks update-nodegroup-config --cluster-name c-1 --nodegroup-name prefect-pool --scaling-config "
            "minSize=3,maxSize=10") in text  # fmt: skip


# -- managed Redis and PostgreSQL ----------------------------------------------------------------------
AZURE_REDIS = "/subscriptions/0000/resourceGroups/prefect-rg/providers/Microsoft.Cache/Redis/prefect-redis-small"
AZURE_PG = ("/subscriptions/0000/resourceGroups/prefect-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/"
            "prefect-db-small")  # fmt: skip


@pytest.mark.parametrize(
    ("rid", "cloud", "evidence", "expected"),
    [
        ("REDIS-MEMORY", "aws", {"cloud": "aws", "service": "ElastiCache", "resource": "prefect-redis",
                                 "asked": "DescribeReplicationGroups", "node_type": "cache.t2.micro"},
         "aws elasticache modify-replication-group --replication-group-id prefect-redis --cache-node-type "
         "cache.r6g.large --apply-immediately"),
        ("REDIS-CPU", "aws", {"cloud": "aws", "service": "ElastiCache", "resource": "tiny", "region": "us-east-1",
                              "asked": "DescribeCacheClusters", "node_type": "cache.t2.micro"},
         "aws elasticache modify-cache-cluster --cache-cluster-id tiny --region us-east-1 --cache-node-type"),
        ("PG-CAPACITY", "aws", {"cloud": "aws", "service": "RDS", "resource": "prefect-db-small",
                                "instance_class": "db.m6g.xlarge"},
         "aws rds modify-db-instance --db-instance-identifier prefect-db-small --db-instance-class db.r6g.xlarge"),
        ("REDIS-MEMORY", "gcp", {"cloud": "gcp", "resource": "projects/acme/locations/us-central1/instances/r1"},
         "gcloud redis instances update r1 --region us-central1 --project acme --size 13"),
        ("PG-CAPACITY", "gcp", {"cloud": "gcp", "resource": "acme:db1"},
         "gcloud sql instances patch db1 --project acme --cpu 4 --memory 32GB"),
        ("REDIS-MEMORY", "azure", {"cloud": "azure", "resource": AZURE_REDIS, "sku": "Standard_C2"},
         f"az redis update --ids {AZURE_REDIS} --sku Premium --vm-size p2"),
        ("PG-CAPACITY", "azure", {"cloud": "azure", "resource": AZURE_PG, "sku": "Standard_D4ds_v5"},
         f"az postgres flexible-server update --ids {AZURE_PG} --tier MemoryOptimized --sku-name Standard_E4ds_v5"),
    ],
)  # fmt: skip
def test_managed_services_are_resized_by_their_resource_id(rid, cloud, evidence, expected):
    text = render(rid, [observation(evidence)], context(cloud))
    assert text is not None and expected in text, text
    assert not PLACEHOLDER.search(text)


def test_a_url_never_carries_credentials_into_the_fix():
    evidence = {"role": "messaging", "redis": "rediss://default:hunter2-secret@redis.example.com:6380/0"}
    text = str(render("REDIS-EVICTION", [observation(evidence)], context()))
    assert "hunter2" not in text and "rediss://redis.example.com:6380/0" in text


# -- the rest of the families name what they saw -------------------------------------------------------
def test_storage_marks_the_observed_csi_class_default():
    evidence = {"storage_classes": [{"name": "gp3", "provisioner": "ebs.csi.aws.com", "default": False}],
                "csi_drivers": ["ebs.csi.aws.com"]}  # fmt: skip
    text = str(render("K8S-STORAGECLASS", [observation(evidence)], context("aws")))
    assert "`kubectl annotate storageclass gp3 storageclass.kubernetes.io/is-default-class=true --overwrite`" in text


def test_workloads_name_the_crash_looping_deployment():
    workloads = ["Deployment prefect/prefect-server: 0/1 available, 0 ready",
                 "Deployment prefect/prefect-worker: 1/1 available, 1 ready"]  # fmt: skip
    evidence = {"namespace": "prefect", "workloads": workloads}
    unmet = observation(evidence, "containers waiting", ["prefect-server-abc/prefect-server: CrashLoopBackOff"])
    text = str(render("PREFECT-WORKLOADS", [unmet], context()))
    assert "`kubectl -n prefect rollout restart deployment/prefect-server`" in text
    assert "server.env" in text


def test_dns_and_sso_and_the_e2e_flow_run_name_host_issuer_and_work_pool():
    dns = {"names": {"api.acme.io": {}, "app.acme.io": {}}, "load_balancer": {"literal": "203.0.113.10"}}
    text = str(render("DNS-RESOLVES", [observation(dns)], context("gcp")))
    assert "api.acme.io" in text and "203.0.113.10" in text and "gcloud dns record-sets create api.acme.io." in text
    sso = {"targets": {"oidc.issuer": {"value": "https://acme.okta.com/oauth2/default", "source": "file"},
                       "oidc.preset": {"value": "okta", "source": "file"}}}  # fmt: skip
    text = str(render("SSO-LOGIN", [observation(sso)], context()))
    assert "https://acme.okta.com/oauth2/default" in text and "Okta application" in text
    e2e = {"via": "deployment readiness-probe/sandbox on work pool k8s-pool"}
    text = str(render("PREFECT-E2E-FLOW-RUN", [observation(e2e)], context()))
    assert "worker.config.workPool: k8s-pool" in text and "`prefect work-pool inspect k8s-pool`" in text


def test_nothing_observed_keeps_the_generic_text():
    assert render("K8S-NODE-SIZE", [observation({})], context("aws")) is None
    assert render("K8S-NODE-SIZE", [], context("aws")) is None


def test_no_profile_remediation_has_a_placeholder():
    for name in ("base", "aws", "gcp", "azure", "sandbox"):
        for rid, req in load_profile(name).requirements.items():
            assert not PLACEHOLDER.search(req.remediation), (name, rid, req.remediation)


# -- in the report --------------------------------------------------------------------------------------
def test_build_report_renders_the_fix_for_a_failure_and_keeps_the_generic_text():
    evidence = nodes_evidence(group("prefect-pool", "eks.amazonaws.com/nodegroup"))
    checks = [
        CheckResult("K8S-NODE-SIZE", "suites/k::size", Outcome.fail,
                    observations=[Observation("usable node groups too small", ["prefect-pool"], "none", None, False,
                                              evidence, "3 × c5.xlarge", "every node 8 vCPU")]),
        CheckResult("K8S-NODE-COUNT", "suites/k::count", Outcome.passed,
                    observations=[Observation("usable nodes", 3, 3, "nodes", True, evidence, "3", "3")]),
    ]  # fmt: skip
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    profile = load_profile("aws")
    report = build_report(run_id="20261204T000000Z-abcdef", profile=profile, checks=checks, waivers=WaiverDecision(),
                          started_at=now, finished_at=now, options={}, redactor=Redactor(),
                          targets={"cloud.cluster": "prod", "cloud.region": "us-east-2"})  # fmt: skip
    results = {r["id"]: r for r in report["results"]}
    size = results["K8S-NODE-SIZE"]
    assert "eksctl create nodegroup --cluster prod --region us-east-2" in size["remediation"]
    assert size["remediation_generic"] == profile.requirements["K8S-NODE-SIZE"].remediation
    assert remediation_problems(size) == []
    assert "prefect-pool" in observed_names(size["evidence"])
    count = results["K8S-NODE-COUNT"]  # a pass keeps the catalog's words
    assert count["remediation"] == count["remediation_generic"]


def test_the_wording_check_catches_a_fix_that_names_nothing_observed():
    result = {"id": "K8S-NODE-SIZE", "outcome": "warn", "evidence": nodes_evidence(group("ng-7", "x")),
              "remediation": "Move the node pool to a bigger instance type (e.g. m5.2xlarge)."}  # fmt: skip
    problems = remediation_problems(result)
    assert any("placeholder" in p for p in problems) and any("names none" in p for p in problems)


def test_every_output_shows_the_fix_of_a_failure():
    import xml.etree.ElementTree as ET

    from readiness.report.terminal import render_summary
    from readiness.report.writers import write_html, write_junit, write_markdown

    evidence = {"storage_classes": [{"name": "gp3", "provisioner": "ebs.csi.aws.com", "default": False}],
                "csi_drivers": ["ebs.csi.aws.com"]}  # fmt: skip
    unmet = Observation("default StorageClass", "none", "one", None, False, evidence, "no default StorageClass",
                        "one default StorageClass")  # fmt: skip
    checks = [CheckResult("K8S-STORAGECLASS", "suites/k::sc", Outcome.fail, observations=[unmet])]
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    report = build_report(run_id="20261204T000000Z-abcdef", profile=load_profile("aws"), checks=checks,
                          waivers=WaiverDecision(), started_at=now, finished_at=now, options={},
                          redactor=Redactor())  # fmt: skip
    command = "kubectl annotate storageclass gp3 storageclass.kubernetes.io/is-default-class=true --overwrite"
    assert "fix: Mark StorageClass gp3" in render_summary(report, None, width=100)
    assert f"`{command}`" in write_markdown(report)
    html = write_html(report)
    row = html.split('<tr id="r-K8S-STORAGECLASS">', 1)[1].split("</tr>", 1)[0]
    visible = row.split("<details>", 1)[0]  # what shows without expanding anything
    assert f"<code>{command}</code>" in visible and "no default StorageClass" in visible
    case = next(c for c in ET.fromstring(write_junit(report).split("\n", 1)[1]).iter("testcase")
                if c.get("name", "").startswith("K8S-STORAGECLASS"))  # fmt: skip
    assert command in case.find("failure").get("message")


@pytest.mark.parametrize(
    ("context_name", "expected"),
    [
        ("arn:aws:eks:eu-west-1:123456789012:cluster/prod-eks",
         {"cloud.cluster": "prod-eks", "cloud.region": "eu-west-1"}),
        ("gke_acme-prefect_europe-west1_prod-gke",
         {"cloud.cluster": "prod-gke", "cloud.region": "europe-west1", "cloud.project": "acme-prefect"}),
        ("kind-local", {}),
    ],
)  # fmt: skip
def test_the_cluster_is_named_from_the_context_a_cloud_cli_wrote(tmp_path, context_name, expected):
    import yaml

    from readiness.targets import resolve_targets

    kubeconfig = tmp_path / "config"
    config = {"apiVersion": "v1", "kind": "Config", "current-context": context_name,
              "contexts": [{"name": context_name, "context": {"cluster": "c"}}]}  # fmt: skip
    kubeconfig.write_text(yaml.safe_dump(config))
    targets = resolve_targets(environ={"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}, discover=False)
    known = {k: v for k, v in targets.known().items() if k.startswith("cloud.")}
    assert known == expected
    for key in expected:
        assert targets.source(key) == f"kubeconfig context {context_name}"


def test_a_secret_the_run_knows_never_reaches_the_fix():
    evidence = {"role": "messaging", "redis": "rediss://redis.example.com:6380/0?token=s3cr3t-t0ken-value"}
    checks = [CheckResult("REDIS-EVICTION", "suites/r::ev", Outcome.fail,
                          observations=[Observation("maxmemory-policy", "allkeys-lru", "noeviction", None, False,
                                                    evidence, "allkeys-lru", "noeviction")])]  # fmt: skip
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    report = build_report(run_id="20261204T000000Z-abcdef", profile=load_profile("base"), checks=checks,
                          waivers=WaiverDecision(), started_at=now, finished_at=now, options={},
                          redactor=Redactor(["s3cr3t-t0ken-value"]))  # fmt: skip
    fix = report["results"][[r["id"] for r in report["results"]].index("REDIS-EVICTION")]["remediation"]
    assert "redis.example.com:6380" in fix and "s3cr3t" not in fix


# -- the Gateway API edge (prefect-helm gateway.enabled) ---------------------------------------------------
GATEWAY_API = {
    "gateway_classes": ["GatewayClass istio (istio.io/gateway-controller): Accepted=True"],
    "gateways": ["Gateway prefect/prefect-server (class istio): Programmed=False (NoResources: no pods), 203.0.113.10"],
    "http_routes": {"prefect/prefect-server": {"hostnames": ["api.example.com"], "parents": [], "backends": []}},
}


def test_an_unprogrammed_gateway_is_the_fix_of_the_ingress_controller_not_ingress_nginx():
    evidence = {"namespace": "ingress-nginx", "gateway_api": GATEWAY_API}
    text = render("K8S-INGRESS-CONTROLLER", [observation(evidence, "Gateway API edge of Prefect")], context("aws"))
    assert text is not None and "ingress-nginx" not in text
    assert "Gateway prefect/prefect-server is Programmed=False (NoResources: no pods)" in text
    assert "kubectl -n prefect describe gateway prefect-server" in text
    assert "gateway.className: istio" in text
    unaccepted = {
        **GATEWAY_API,
        "gateway_classes": ["GatewayClass envoy (gateway.envoyproxy.io/c): Accepted=False"],
        "gateways": ["Gateway prefect/prefect-server (class envoy): Programmed=True, 203.0.113.10"],
    }
    text = render("K8S-INGRESS-CONTROLLER", [observation({"gateway_api": unaccepted})], context())
    assert text is not None and "GatewayClass envoy is Accepted=False" in text
    assert "kubectl get gatewayclass envoy -o yaml" in text


def test_an_httproute_to_a_service_without_endpoints_names_the_route_and_the_service():
    routes = [
        "api.example.com(any) -> [prefect-server-canary.prefect.svc.cluster.local:4200 no ready endpoints] "
        "(HTTPRoute prefect/prefect-server)",
        "app.example.com(any) -> [prefect-server.prefect.svc.cluster.local:4200 ok, 1 ready endpoint] "
        "(HTTPRoute prefect/prefect-ui)",
    ]
    text = render("MESH-ROUTING", [observation({"routes": routes})], context())
    assert text is not None and "HTTPRoute prefect/prefect-server sends" in text and "prefect-ui" not in text
    assert "kubectl -n prefect describe httproute prefect-server" in text
    assert "kubectl -n prefect get endpointslices -l kubernetes.io/service-name=prefect-server-canary" in text
    assert not PLACEHOLDER.search(text)
