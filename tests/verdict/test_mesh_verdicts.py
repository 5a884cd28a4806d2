"""Verdicts of the mesh suite (Istio objects through the Kubernetes API) on the sandbox and its faults."""

from __future__ import annotations

import pytest

from tests.verdict.edge_mesh import MESH, moved, run

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_conformant_sandbox_passes_every_mesh_check(suites):
    verdicts = run(suites)
    for requirement in MESH:
        assert verdicts.outcome(requirement) == "pass", verdicts.explain(requirement)
    probe = verdicts.results["MESH-MTLS-PROBE"]
    assert probe["outcome"] == "skip" and "opt-in" in probe["message"], probe
    strict = verdicts.results["MESH-MTLS-STRICT"]["evidence"]["effective"]
    assert any("prefect-server:4200 STRICT (PeerAuthentication istio-system/default (mesh-wide))" in m for m in strict)


@pytest.mark.parametrize(
    ("scenario", "requirement", "names"),
    [
        ("mtls-permissive", "MESH-MTLS-STRICT", "PeerAuthentication istio-system/default"),
        ("no-authz-policy", "MESH-AUTHZ", "prefect/prefect-server"),
        ("missing-sidecar", "MESH-SIDECARS", "prefect-worker"),
        ("istiod-down", "MESH-CONTROL-PLANE", "istiod"),
        ("route-missing-service", "MESH-ROUTING", "prefect-api-gone"),
    ],
)
def test_each_mesh_fault_fails_its_requirement_and_nothing_else(suites, scenario, requirement, names):
    conformant = run(suites)
    verdicts = run(suites, scenario)
    assert verdicts.outcome(requirement) == "fail", verdicts.explain(requirement)
    assert names in str(verdicts.results[requirement]["observed_value"]) + verdicts.results[requirement]["message"]
    others = {r: change for r, change in moved(conformant, verdicts).items() if r != requirement}
    assert not others, others
    assert verdicts.code == 1


def test_opted_in_probe_runs_its_job_reads_it_and_cleans_up_on_simulated_nodes(suites, tmp_path):
    from tests.suite_run import ROOT

    profile = tmp_path / "probe.yaml"
    profile.write_text(
        f"name: probe\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\n"
        "requirements:\n  MESH-MTLS-PROBE:\n    params: {run: true}\n"
    )
    verdicts = suites.run("mesh", profile=str(profile), extra=("-k", "plaintext"))
    result = verdicts.results["MESH-MTLS-PROBE"]
    # The sandbox's nodes are simulated (kwok): the Job, the reading of its exit status and the cleanup are
    # real; the connection attempt is not, and the check says so instead of passing.
    assert result["outcome"] == "skip", verdicts.explain("MESH-MTLS-PROBE")
    assert "simulated node (kwok)" in result["message"]
    probe = result["evidence"]["probe"]
    assert probe["simulated_node"] is True and probe["exit_code"] == 0 and probe["cleaned_up"] is True
    from kubernetes import client, config

    api = config.new_client_from_config(str(suites.sandbox.ctx.root / "kubeconfig"))
    try:
        left = client.CoreV1Api(api).list_namespaced_pod(
            "prefect", label_selector="app.kubernetes.io/name=readiness-mtls-probe"
        )
        jobs = client.BatchV1Api(api).list_namespaced_job(
            "prefect", label_selector="app.kubernetes.io/name=readiness-mtls-probe"
        )
    finally:
        api.close()
    assert not left.items and not jobs.items
