"""Verdicts of the Kubernetes suite on the sandbox cluster: conformant, then each fault turning its own
requirement (several independent faults per run, to keep the number of suite runs small)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.go_tools import kubectl
from tests.report_wording import remediation_problems
from tests.suite_run import ROOT, Verdicts, run_suites
from tests.verdict.moto_server import DUMMY_AWS, REGION, aws, moto_server

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

KUBERNETES = (
    "K8S-NODE-COUNT",
    "K8S-NODE-SIZE",
    "K8S-AUTOSCALING",
    "K8S-STORAGECLASS",
    "K8S-INGRESS-CONTROLLER",
    "K8S-INGRESS-NGINX",
    "K8S-VERSION",
    "LB-ADDRESS",
    "PREFECT-WORKLOADS",
)


def run(suites, targets: dict | None = None, *extra: str, env: dict[str, str] | None = None) -> Verdicts:
    """The Kubernetes suite against the sandbox as a user runs it: the sandbox's targets file, with
    `targets` sections merged over it when given."""
    import yaml

    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG", "AWS_"))}
    base.update(suites.sandbox.user_env())
    report_dir = Path(tempfile.mkdtemp(prefix="verdicts-k8s-", dir=suites.sandbox.ctx.root))
    if targets:
        merged = yaml.safe_load(suites.sandbox.targets_path.read_text())
        for section, body in targets.items():
            merged[section] = {**(merged.get(section) or {}), **body}
        path = report_dir / "targets.yaml"
        path.write_text(yaml.safe_dump(merged))
        base["READINESS_TARGETS"] = str(path)
    base.update(env or {})
    verdicts = run_suites([ROOT / "suites" / "kubernetes"], env=base, report_dir=report_dir, extra=extra, timeout=300)
    # every fail and warn's fix names an object the run observed, with no placeholder (issue #18)
    assert [p for r in verdicts.results.values() for p in remediation_problems(r)] == []
    return verdicts


def assert_outcomes(verdicts: Verdicts, expected: dict[str, str], default: str = "pass") -> None:
    """Each requirement of the suite has its expected outcome; the ones not named pass."""
    for requirement in KUBERNETES:
        want = expected.get(requirement, default)
        assert verdicts.outcome(requirement) == want, verdicts.explain(requirement)


def apply_all(stack: ExitStack, suites, *names: str) -> None:
    for name in names:  # reverted in reverse order when the stack closes
        stack.enter_context(suites.scenario(name))


def test_conformant_cluster_passes_every_kubernetes_requirement(suites):
    verdicts = run(suites)
    assert_outcomes(verdicts, {})
    results = verdicts.results
    assert results["K8S-NODE-COUNT"]["observed_value"] == 3
    assert results["K8S-NODE-COUNT"]["evidence"]["excluded"] == {}
    assert results["K8S-AUTOSCALING"]["observed_value"].startswith("enabled via cluster-autoscaler")
    assert "eks-prefect-pool" in str(results["K8S-AUTOSCALING"]["evidence"]["autoscaler_groups"])
    assert results["K8S-STORAGECLASS"]["observed_value"] == "gp3" or results["K8S-STORAGECLASS"]["observed_value"] == (
        "ebs.csi.aws.com"
    )
    assert results["K8S-STORAGECLASS"]["evidence"]["binding_mode"] == "WaitForFirstConsumer"
    assert "203.0.113.10" in str(results["LB-ADDRESS"]["observed_value"])
    assert "L4" in str(results["LB-ADDRESS"]["observed_value"])
    assert results["K8S-INGRESS-NGINX"]["observed_value"] == ["k8s.io/ingress-nginx"]
    assert verdicts.code == 0, verdicts.output[-3000:]


def test_missing_nodes_storage_load_balancer_and_autoscaler_turn_their_own_requirements(suites):
    with ExitStack() as stack:
        apply_all(stack, suites, "two-nodes", "no-storageclass", "lb-pending", "no-autoscaler")
        verdicts = run(suites)
    assert_outcomes(
        verdicts,
        {"K8S-NODE-COUNT": "warn", "K8S-STORAGECLASS": "fail", "LB-ADDRESS": "fail", "K8S-AUTOSCALING": "warn"},
    )
    assert verdicts.results["K8S-NODE-COUNT"]["observed_value"] == 2
    assert "no autoscaler found" in verdicts.results["K8S-AUTOSCALING"]["observed_value"]
    assert "pending" in str(verdicts.results["LB-ADDRESS"]["observed_value"])
    assert verdicts.code == 1
    # The fixes name the sandbox's own objects: its EKS node group (from the nodes' labels), the Service.
    fixes = {rid: verdicts.results[rid]["remediation"] for rid in ("K8S-NODE-COUNT", "LB-ADDRESS")}
    assert "`eksctl scale nodegroup --name prefect-pool --nodes 3 --nodes-min 3`" in fixes["K8S-NODE-COUNT"]
    assert "set cloud.cluster in the targets file" in fixes["K8S-NODE-COUNT"]  # the sandbox names no cluster
    assert "kubectl -n ingress-nginx describe service ingress-nginx-controller" in fixes["LB-ADDRESS"]


def test_small_nodes_fixed_autoscaler_crashloop_and_no_ingress_turn_their_own_requirements(suites):
    with ExitStack() as stack:
        apply_all(stack, suites, "small-nodes", "autoscaler-fixed-size", "no-ingress-controller", "prefect-crashloop")
        verdicts = run(suites)
    assert_outcomes(
        verdicts,
        {
            "K8S-NODE-SIZE": "warn",
            "K8S-AUTOSCALING": "warn",
            "K8S-INGRESS-CONTROLLER": "fail",
            "K8S-INGRESS-NGINX": "skip",  # no controller at all: K8S-INGRESS-CONTROLLER says so
            "PREFECT-WORKLOADS": "fail",
        },
    )
    results = verdicts.results
    assert "c5.xlarge, 4 vCPU / 8 GiB, 3 node(s)" in str(results["K8S-NODE-SIZE"]["observed_value"])
    assert "max equal to min" in results["K8S-AUTOSCALING"]["observed_value"]
    assert "CrashLoopBackOff" in str(results["PREFECT-WORKLOADS"]["observed_value"])
    assert "eksctl create nodegroup --name prefect-pool-large --node-type" in results["K8S-NODE-SIZE"]["remediation"]
    assert "kubectl -n prefect rollout restart deployment/prefect-server" in results["PREFECT-WORKLOADS"]["remediation"]


def test_cordoned_and_tainted_nodes_do_not_count_and_old_kubelets_warn(suites):
    with ExitStack() as stack:
        apply_all(stack, suites, "node-cordoned", "node-tainted", "old-kubelets")
        verdicts = run(suites)
    assert_outcomes(verdicts, {"K8S-NODE-COUNT": "warn", "K8S-VERSION": "warn"})
    count = verdicts.results["K8S-NODE-COUNT"]
    assert count["observed_value"] == 1
    assert count["evidence"]["excluded"] == {
        "ip-10-0-0-10.ec2.internal": "cordoned (unschedulable)",
        "ip-10-0-0-11.ec2.internal": "tainted dedicated=gpu-batch:NoSchedule",
    }
    assert verdicts.results["K8S-VERSION"]["observed_value"] == 5
    assert "`kubectl uncordon ip-10-0-0-10.ec2.internal`" in count["remediation"]
    assert (
        "eksctl upgrade nodegroup --name prefect-pool --kubernetes-version 1.34"
        in (verdicts.results["K8S-VERSION"]["remediation"])
    )


def test_another_ingress_controller_warns_naming_it(suites):
    with suites.scenario("ingress-traefik"):
        verdicts = run(suites)
    assert_outcomes(verdicts, {"K8S-INGRESS-NGINX": "warn"})
    assert verdicts.results["K8S-INGRESS-NGINX"]["observed_value"] == ["traefik.io/ingress-controller"]


# -- GKE, AKS and Karpenter node pools: the nodes' own labels name the pool in the fix ----------------
@contextmanager
def node_group_label(suites, label: str, value: str) -> Iterator[None]:
    """Every sandbox node moved from its EKS node group label to another platform's, put back on exit."""
    kubeconfig = suites.sandbox.env()["KUBECONFIG"]

    def relabel(*labels: str) -> None:
        done = subprocess.run([str(kubectl()), f"--kubeconfig={kubeconfig}", "label", "nodes", "--all", "--overwrite",
                               *labels], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr

    relabel("eks.amazonaws.com/nodegroup-", f"{label}={value}")
    try:
        yield
    finally:
        relabel(f"{label}-", "eks.amazonaws.com/nodegroup=prefect-pool")


@pytest.mark.parametrize(
    ("label", "pool", "cloud", "count_fix", "size_fix"),
    [
        ("cloud.google.com/gke-nodepool", "prefect-pool",
         {"provider": "gcp", "cluster": "prod-gke", "region": "us-central1", "project": "acme-prefect"},
         "gcloud container clusters resize prod-gke --node-pool prefect-pool --num-nodes 3 --location us-central1 "
         "--project acme-prefect",
         "gcloud container node-pools update prefect-pool --cluster prod-gke --location us-central1 --project "
         "acme-prefect --machine-type n2-standard-8"),
        ("kubernetes.azure.com/agentpool", "prefectpool",
         {"provider": "azure", "cluster": "prod-aks", "resource_group": "prefect-rg",
          "subscription": "00000000-1111-2222-3333-444444444444"},
         "az aks nodepool scale --resource-group prefect-rg --cluster-name prod-aks --name prefectpool --node-count 3",
         "az aks nodepool add --resource-group prefect-rg --cluster-name prod-aks --name prefectlarge "
         "--node-vm-size Standard_D8s_v5 --node-count 3"),
        ("karpenter.sh/nodepool", "default", {"provider": "aws", "cluster": "prod-eks"},
         "kubectl get nodeclaims -l karpenter.sh/nodepool=default", "kubectl edit nodepool default"),
    ],
)  # fmt: skip
def test_gke_aks_and_karpenter_pools_are_named_in_the_fix_with_their_cli(suites, label, pool, cloud, count_fix,
                                                                         size_fix):  # fmt: skip
    with ExitStack() as stack:
        apply_all(stack, suites, "small-nodes", "node-cordoned")  # too small, and one node cordoned: 2 usable
        stack.enter_context(node_group_label(suites, label, pool))
        verdicts = run(suites, {"cloud": cloud}, "-k", "enough_nodes or big_enough")
    assert verdicts.outcome("K8S-NODE-COUNT") == "warn", verdicts.explain("K8S-NODE-COUNT")
    assert verdicts.outcome("K8S-NODE-SIZE") == "warn", verdicts.explain("K8S-NODE-SIZE")
    assert f"`{count_fix}`" in verdicts.results["K8S-NODE-COUNT"]["remediation"]
    assert f"`{size_fix}`" in verdicts.results["K8S-NODE-SIZE"]["remediation"]
    assert "cloud.cluster" not in verdicts.results["K8S-NODE-COUNT"]["remediation"]  # the targets named it


# -- EKS node groups through boto3, against moto in server mode ---------------------------------
EKS_CLUSTER = "readiness-sandbox"


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture(scope="module")
def eks(moto_endpoint):
    client = aws("eks", moto_endpoint)
    client.create_cluster(name=EKS_CLUSTER, roleArn="arn:aws:iam::123456789012:role/eks",
                          resourcesVpcConfig={"subnetIds": ["subnet-0a"]})  # fmt: skip
    client.create_nodegroup(clusterName=EKS_CLUSTER, nodegroupName="prefect-pool",
                            nodeRole="arn:aws:iam::123456789012:role/node", subnets=["subnet-0a"],
                            scalingConfig={"minSize": 3, "maxSize": 10, "desiredSize": 3})  # fmt: skip
    return client


def _scale(eks, minimum: int, maximum: int) -> None:
    scaling = {"minSize": minimum, "maxSize": maximum, "desiredSize": minimum}
    eks.update_nodegroup_config(clusterName=EKS_CLUSTER, nodegroupName="prefect-pool", scalingConfig=scaling)


def _aws_targets(endpoint: str, cluster: str = EKS_CLUSTER) -> dict:
    return {"cloud": {"provider": "aws", "region": REGION, "cluster": cluster, "endpoint_url": endpoint}}


AWS_KEYS = DUMMY_AWS


def test_eks_node_groups_scaling_on_off_and_fixed(suites, eks, moto_endpoint):
    targets = _aws_targets(moto_endpoint)
    _scale(eks, 3, 10)
    on = run(suites, targets, "-k", "autoscaled", env=AWS_KEYS)
    assert on.outcome("K8S-AUTOSCALING") == "pass", on.explain("K8S-AUTOSCALING")
    assert on.results["K8S-AUTOSCALING"]["evidence"]["eks_nodegroups"] == ["prefect-pool [eks] (min 3, max 10, now 3)"]

    _scale(eks, 3, 3)  # the status ConfigMap still says 3..10: EKS's own scaling config wins
    fixed = run(suites, targets, "-k", "autoscaled", env=AWS_KEYS)
    assert fixed.outcome("K8S-AUTOSCALING") == "warn", fixed.explain("K8S-AUTOSCALING")
    assert "prefect-pool [eks] (min 3, max 3" in fixed.results["K8S-AUTOSCALING"]["observed_value"]
    # the fix names the EKS cluster and node group moto holds
    assert (f"`aws eks update-nodegroup-config --cluster-name {EKS_CLUSTER} --nodegroup-name prefect-pool "
            "--scaling-config minSize=3,maxSize=10`") in fixed.results["K8S-AUTOSCALING"]["remediation"]  # fmt: skip

    _scale(eks, 3, 10)
    with suites.scenario("no-autoscaler"):  # bounds on the node group, but nothing scales it
        off = run(suites, targets, "-k", "autoscaled", env=AWS_KEYS)
    assert off.outcome("K8S-AUTOSCALING") == "warn", off.explain("K8S-AUTOSCALING")
    assert "no autoscaler" in off.results["K8S-AUTOSCALING"]["observed_value"]
    assert (f"--set autoDiscovery.clusterName={EKS_CLUSTER} --set awsRegion={REGION}"
            in off.results["K8S-AUTOSCALING"]["remediation"])  # fmt: skip


def test_eks_api_refusing_is_an_error_with_the_cause(suites, eks, moto_endpoint):
    verdicts = run(suites, _aws_targets(moto_endpoint, "no-such-cluster"), "-k", "autoscaled", env=AWS_KEYS)
    assert verdicts.outcome("K8S-AUTOSCALING") == "error", verdicts.explain("K8S-AUTOSCALING")
    assert "no-such-cluster" in verdicts.results["K8S-AUTOSCALING"]["message"]


# -- bad input: unreachable API server, wrong token, forbidden -------------------------------------
def _kubeconfig(path: Path, server: str, token: str, ca_data: str | None) -> Path:
    import yaml

    cluster = {"server": server, **({"certificate-authority-data": ca_data} if ca_data else {})}
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    return path


def _sandbox_kubeconfig(suites) -> dict:
    import yaml

    return yaml.safe_load(Path(suites.sandbox.env()["KUBECONFIG"]).read_text())


def test_unreachable_wrong_token_and_forbidden_are_errors_with_the_cause(suites, tmp_path):
    from kubernetes import client, config

    sandbox = _sandbox_kubeconfig(suites)
    server = sandbox["clusters"][0]["cluster"]["server"]
    ca = sandbox["clusters"][0]["cluster"]["certificate-authority-data"]

    started = time.monotonic()
    dead = run(
        suites, {"kubernetes": {"kubeconfig": str(_kubeconfig(tmp_path / "dead", "https://127.0.0.1:9", "x", ca))}}
    )
    for requirement in KUBERNETES:
        if requirement != "K8S-INGRESS-NGINX":
            assert dead.outcome(requirement) == "error", dead.explain(requirement)
    assert "refused" in dead.results["K8S-NODE-COUNT"]["message"]
    assert time.monotonic() - started < 120
    assert "Traceback" not in dead.output

    wrong = run(suites, {"kubernetes": {"kubeconfig": str(_kubeconfig(tmp_path / "wrong", server, "not-a-token", ca))}})
    assert wrong.outcome("K8S-NODE-COUNT") == "error"
    assert "401 Unauthorized" in wrong.results["K8S-NODE-COUNT"]["message"]
    assert "not-a-token" not in wrong.output

    # A ServiceAccount with no role at all: its token is real, every read is forbidden.
    api = config.new_client_from_config(config_file=suites.sandbox.env()["KUBECONFIG"])
    core = client.CoreV1Api(api)
    account = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="readiness-no-rights"))
    core.create_namespaced_service_account("default", account)
    try:
        spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        request = client.AuthenticationV1TokenRequest(spec=spec)
        token = core.create_namespaced_service_account_token("readiness-no-rights", "default", request).status.token
        denied = run(suites, {"kubernetes": {"kubeconfig": str(_kubeconfig(tmp_path / "denied", server, token, ca))}})
    finally:
        core.delete_namespaced_service_account("readiness-no-rights", "default")
        api.close()
    assert denied.outcome("K8S-NODE-COUNT") == "error", denied.explain("K8S-NODE-COUNT")
    assert "forbidden" in denied.results["K8S-NODE-COUNT"]["message"]
    assert "deploy/rbac" in denied.results["K8S-NODE-COUNT"]["message"]


# -- least privilege: the whole suite as the read-only ServiceAccount of deploy/rbac/ --------------
def test_the_read_only_service_account_runs_the_suite_and_cannot_read_secrets(suites, tmp_path):
    import yaml
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    from readiness.sandbox.kubernetes.kube import Kube, Ref

    kubeconfig = suites.sandbox.env()["KUBECONFIG"]
    kube = Kube(kubeconfig)
    objects = [o for o in yaml.safe_load_all((ROOT / "deploy" / "rbac" / "readiness-reader.yaml").read_text()) if o]
    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        for obj in objects:
            kube.apply(obj)
        spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        token = (
            client.CoreV1Api(api)
            .create_namespaced_service_account_token(
                "readiness-reader", "prefect-readiness", client.AuthenticationV1TokenRequest(spec=spec)
            )
            .status.token
        )
        sandbox = _sandbox_kubeconfig(suites)["clusters"][0]["cluster"]
        reader = _kubeconfig(tmp_path / "reader", sandbox["server"], token, sandbox["certificate-authority-data"])
        verdicts = run(suites, {"kubernetes": {"kubeconfig": str(reader)}})
        assert_outcomes(verdicts, {})
        assert "forbidden" not in verdicts.output
        as_reader = config.new_client_from_config(config_file=str(reader))
        try:
            with pytest.raises(ApiException) as refused:
                client.CoreV1Api(as_reader).list_namespaced_secret("prefect")
            assert refused.value.status == 403
        finally:
            as_reader.close()
    finally:
        for obj in reversed(objects):
            kube.delete(Ref.of(obj))
        kube.close()
        api.close()
