"""The in-cluster kit on the sandbox's API server, as its users apply it: every overlay rendered by `kustomize
build` passes `kubectl apply --server-side --dry-run=server`, the aws kit is applied for real (its Job's pod
admitted under the `restricted` Pod Security level) and deleted with `kubectl delete`; the
ServiceAccount is allowed exactly the read list of tests/ops/rbac.py and refused the rest
(SubjectAccessReview); with its own token it runs every read check of the Kubernetes and mesh suites
without a permission error."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from readiness.sandbox.kubernetes.kube import Kube, Ref
from tests.go_tools import kubectl
from tests.ops.kit import rendered
from tests.ops.rbac import GROUPS, NAMESPACE, READ_ACCESS, READ_URLS, REFUSED, SERVICE_ACCOUNT, USER, Access
from tests.suite_run import ROOT, Verdicts, run_suites

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
OVERLAYS = ROOT / "deploy" / "overlays"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
MANAGER = "prefect-readiness-tests"  # one field manager for every apply, as one operator applying the kit


def _kubectl(kubeconfig: str, *args: str, manifest: str) -> str:
    """kubectl with the sandbox's kubeconfig, the manifest on stdin; its own error output when it fails."""
    done = subprocess.run([str(kubectl()), f"--kubeconfig={kubeconfig}", *args, "-f", "-"], input=manifest,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, f"kubectl {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr}"
    return done.stdout


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def kube(suites) -> Iterator[Kube]:
    client = Kube(suites.sandbox.env()["KUBECONFIG"])
    yield client
    client.close()


@pytest.fixture(scope="module")
def kit(suites, kube) -> Iterator[list[dict]]:
    """Dry-run every overlay, apply the aws one, and delete it at the end (also on failure): kustomize build
    piped to kubectl apply --server-side, as a user runs them."""
    kubeconfig = suites.sandbox.env()["KUBECONFIG"]
    overlays = {cloud.name: rendered(cloud) for cloud in sorted(OVERLAYS.iterdir())}
    assert kube.get(Ref("v1", "Namespace", NAMESPACE)) is None, f"namespace {NAMESPACE} left over from an earlier run"
    manifest = overlays["aws"]
    objects = [o for o in yaml.safe_load_all(manifest) if o]
    apply = ("apply", "--server-side", f"--field-manager={MANAGER}")
    try:
        # A server dry run of a namespaced object needs its Namespace: the cluster-scoped part of every overlay
        # first (it creates nothing), then the kit's Namespace for real, then every overlay in full, then the
        # aws kit for real.
        for cloud, text in overlays.items():
            cluster_scoped = [o for o in yaml.safe_load_all(text) if o and o["kind"] in CLUSTER_SCOPED]
            out = _kubectl(kubeconfig, *apply, "--dry-run=server", manifest=yaml.safe_dump_all(cluster_scoped))
            assert out.count("(server dry run)") == len(cluster_scoped), f"{cloud}: {out}"
        assert kube.get(Ref("v1", "Namespace", NAMESPACE)) is None  # a dry run creates nothing
        namespace = [o for o in objects if o["kind"] == "Namespace"]
        _kubectl(kubeconfig, *apply, manifest=yaml.safe_dump_all(namespace))
        for cloud, text in overlays.items():
            out = _kubectl(kubeconfig, *apply, "--dry-run=server", manifest=text)
            assert out.count("(server dry run)") == len([o for o in yaml.safe_load_all(text) if o]), f"{cloud}: {out}"
        _kubectl(kubeconfig, *apply, manifest=manifest)
        yield objects
    finally:
        _kubectl(kubeconfig, "delete", "--ignore-not-found", "--wait=false", "--grace-period=0", manifest=manifest)
        _wait(lambda: kube.get(Ref("v1", "Namespace", NAMESPACE)) is None, 120, f"namespace {NAMESPACE} to go")


def test_every_overlay_dry_runs_and_the_aws_kit_is_created_with_its_gate_pod_admitted(kube, kit):
    for obj in kit:
        assert kube.get(Ref.of(obj)) is not None, f"{obj['kind']} {obj['metadata']['name']} was not created"
    # The Job controller creates the gate's pod only if Pod Security (`restricted` on the namespace) admits it.
    pods = Ref("v1", "Pod", None, NAMESPACE, label_selector="job-name=prefect-readiness-gate")
    _wait(lambda: kube.list(pods), 60, "the gate Job's pod")


def _review(kube: Kube, access: Access, namespace: str | None = None) -> bool:
    attributes = {"verb": access.verb, "group": access.group, "resource": access.resource}
    if "/" in access.resource:
        attributes["resource"], attributes["subresource"] = access.resource.split("/", 1)
    if access.name:
        attributes["name"] = access.name
    if namespace:
        attributes["namespace"] = namespace
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": USER, "groups": GROUPS, "resourceAttributes": attributes},
    }
    return bool(kube.create(review)["status"].get("allowed"))


def _review_url(kube: Kube, verb: str, url: str) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": USER, "groups": GROUPS, "nonResourceAttributes": {"verb": verb, "path": url}},
    }
    return bool(kube.create(review)["status"].get("allowed"))


def test_the_service_account_may_do_exactly_the_read_list_and_is_refused_the_rest(kube, kit):
    denied = [a for a in sorted(READ_ACCESS) if not _review(kube, a)]
    assert denied == [], f"the read checks need these, the role does not grant them: {denied}"
    assert all(_review_url(kube, verb, url) for verb, url in READ_URLS)
    allowed = [(a, ns) for a in REFUSED for ns in (None, "prefect", "kube-system") if _review(kube, a, ns)]
    assert allowed == [], f"the read-only role must not allow: {allowed}"


def _service_account_kubeconfig(kube: Kube, admin_kubeconfig: str, folder: Path) -> Path:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 900}}
    path = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{SERVICE_ACCOUNT}/token"
    token = kube.call("POST", path, request)["status"]["token"]
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": cluster}],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {"cluster": "sandbox", "user": SERVICE_ACCOUNT}}],
        "current-context": "reader",
    }
    out = folder / "reader.kubeconfig"
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


def run_as(suites, kubeconfig: Path, *paths: str, extra: tuple[str, ...] = ()) -> Verdicts:
    """The suites with the sandbox's settings, but every Kubernetes call made with `kubeconfig`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
    env.update(suites.sandbox.env())
    env["PREFECT_HOME"] = str(suites.sandbox.ctx.root / "client-home")
    env["KUBECONFIG"] = str(kubeconfig)
    folder = Path(tempfile.mkdtemp(prefix="ops-reader-", dir=suites.sandbox.ctx.root))
    if env.get("READINESS_TARGETS"):  # the targets file names the kubeconfig: point it at the reader's
        targets = yaml.safe_load(Path(env["READINESS_TARGETS"]).read_text()) or {}
        targets.setdefault("kubernetes", {})["kubeconfig"] = str(kubeconfig)
        (folder / "targets.yaml").write_text(yaml.safe_dump(targets))
        env["READINESS_TARGETS"] = str(folder / "targets.yaml")
    return run_suites([ROOT / "suites" / p for p in paths], env=env, report_dir=folder / "reports", extra=extra)


def test_the_service_account_runs_every_read_check_of_the_kubernetes_and_mesh_suites(suites, kube, kit, tmp_path):
    reader = _service_account_kubeconfig(kube, suites.sandbox.env()["KUBECONFIG"], tmp_path)
    verdicts = run_as(suites, reader, "kubernetes", "mesh", extra=("--read-only",))
    ran = {rid: r for rid, r in verdicts.results.items() if r["component"] in ("kubernetes", "mesh") and r["checks"]}
    read_checks = {rid for rid, r in ran.items() if any(c["effect"] == "read" for c in r["checks"])}
    assert {"K8S-NODE-COUNT", "MESH-MTLS-STRICT"} <= read_checks, verdicts.output[-3000:]
    # a permission problem shows as an `error` naming the refusal; a fail or warn is the cluster's own state
    errors = {
        rid: c["message"]
        for rid, r in ran.items()
        for c in r["checks"]
        if c["effect"] == "read" and c["outcome"] == "error"
    }
    assert errors == {}, verdicts.output[-3000:]
    for word in ("forbidden", "Forbidden"):
        assert word not in verdicts.output, verdicts.output[-3000:]
