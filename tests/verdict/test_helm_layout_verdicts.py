"""Verdicts on the helm layout (issue #19): the session sandbox's Prefect objects laid out as the prefect-helm charts
render them (`readiness sandbox up --layout helm`), switched in place for this module and back afterwards.

The layout changes only Kubernetes objects; the servers behind them are the same. The conformant run is every suite
with the write and load checks: its read checks must give the default layout's outcomes (the read-only run of the same
suites that test_report_wording makes, ``suites.shared``) and its write and load checks must pass; each fault runs
only the suites whose requirements could move.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from readiness.sandbox import SandboxError
from readiness.sandbox.services.common import POSTGRES_HOST
from tests.report_wording import report_problems
from tests.suite_run import ROOT, Verdicts, run_suites
from tests.verdict.harness import SuiteRunner

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: every suite but the load, read-only: the same run as test_report_wording's on the default layout
SUITES = ("kubernetes", "edge", "identity", "mesh", "postgres", "redis", "smtp", "prefect")
READ_ONLY = ("--read-only",)
#: gwapi's faults on the Gateway API edge, which the helm layout has instead of the Ingress, and what each flips
GATEWAY_FAULTS = {"gateway-not-programmed": "K8S-INGRESS-CONTROLLER", "httproute-no-endpoints": "MESH-ROUTING"}
EDGE_SUITES = ("kubernetes/test_ingress.py", "mesh")
#: each helm-layout fault: the suite of the requirement it flips, and the check of the other one it must not flip
CRASHLOOP_SUITES = ("kubernetes", "prefect/test_workers.py")
NO_HEARTBEAT_SUITES = ("prefect", "kubernetes/test_workloads.py")


def moved(before: Verdicts, after: Verdicts) -> dict[str, tuple[str, str]]:
    """Requirement -> (outcome before, outcome after), for every requirement of `after` whose outcome changed."""
    return {r: (before.outcome(r), after.outcome(r)) for r in after.results if before.outcome(r) != after.outcome(r)}


def test_the_default_layout_refuses_a_helm_layout_fault(suites: SuiteRunner) -> None:
    """background-services-crashloop breaks a Deployment only the helm layout has: on the default layout it says so
    and records nothing."""
    assert suites.sandbox.layout == "default"
    with pytest.raises(SandboxError, match="--layout helm"):
        suites.sandbox.apply("background-services-crashloop")
    assert suites.sandbox.ctx.active_scenarios() == []


@pytest.fixture(scope="module")
def default_run(suites: SuiteRunner) -> Verdicts:
    return suites.shared(*SUITES, extra=READ_ONLY)


@pytest.fixture(scope="module")
def helm(suites: SuiteRunner, default_run: Verdicts) -> Iterator[SuiteRunner]:
    """The session sandbox on the helm layout for this module (after the default layout's run), then back."""
    with suites.sandbox.layout_switched("helm"):
        yield suites
    assert suites.sandbox.layout == "default"


@pytest.fixture(scope="module")
def helm_run(helm: SuiteRunner) -> Verdicts:
    """Every suite, the write and load checks included, on the helm layout."""
    return helm.run(*SUITES, "load")


def test_conformant_helm_layout_passes_every_suite_with_the_default_layouts_requirements(default_run, helm_run):
    assert helm_run.code == 0, helm_run.output[-3000:]
    assert set(default_run.results) < set(helm_run.results)
    changed = {r: (default_run.outcome(r), helm_run.outcome(r)) for r in default_run.results
               if default_run.outcome(r) != helm_run.outcome(r)}  # fmt: skip
    assert changed == {}  # the same outcomes: no new skip, no new failure
    # The write and load checks pass on the charts' layout too (the events websocket's write check is in its
    # requirement's outcome above); the mTLS probe is the one write check the sandbox profile leaves off on either
    # layout (it launches a pod: opt-in).
    writes = {r: result["outcome"] for r, result in helm_run.results.items() if r not in default_run.results}
    assert {"PREFECT-E2E-FLOW-RUN", "SMTP-DELIVERY", "LOAD-LATENCY", "LOAD-RECOVERY"} <= set(writes)
    assert {r: o for r, o in writes.items() if o != "pass"} == {"MESH-MTLS-PROBE": "skip"}, writes
    evaluated = [r for r, result in helm_run.results.items() if result["outcome"] == "pass"]
    assert len(evaluated) >= 40, evaluated
    workloads = helm_run.results["PREFECT-WORKLOADS"]
    assert workloads["observed"].startswith(
        "server prefect-server 1/1 ready, background services prefect-server-background-services 1/1 ready, "
        "worker prefect-worker 1/1 ready"
    ), workloads["observed"]
    roles = workloads["evidence"]["roles"]
    assert (
        roles["Deployment prefect/prefect-server-background-services"]
        == "background services (prefect-server/prefect-server)"
    )
    assert roles["Deployment prefect/prefect-worker"] == "worker (prefect-worker/prefect-worker)"
    # The edge is the chart's Gateway API one (gateway.enabled, httproute.enabled), not its Ingress.
    controller = helm_run.results["K8S-INGRESS-CONTROLLER"]["observed"]
    assert controller.startswith("HTTPRoute prefect/prefect-server on Gateway prefect/prefect-server"), controller
    assert "Gateway prefect/prefect-server (Gateway API" in helm_run.results["LB-ADDRESS"]["observed"]
    assert "(HTTPRoute prefect/prefect-server)" in helm_run.results["MESH-ROUTING"]["observed"]
    # The default layout's server runs the background services itself: two workloads, named by their roles too.
    assert default_run.results["PREFECT-WORKLOADS"]["observed"].startswith(
        "server prefect-server 1/1 ready, worker prefect-worker 1/1 ready"
    )


def test_background_services_crashloop_fails_prefect_workloads_only(helm, helm_run):
    with helm.scenario("background-services-crashloop"):
        verdicts = helm.run(*CRASHLOOP_SUITES, extra=READ_ONLY)
    assert moved(helm_run, verdicts) == {"PREFECT-WORKLOADS": ("pass", "fail")}
    observed = str(verdicts.results["PREFECT-WORKLOADS"]["observed_value"])
    assert "prefect-server-background-services" in observed and "CrashLoopBackOff" in observed, observed


def test_worker_no_heartbeat_fails_the_heartbeat_only(helm, helm_run):
    """The worker chart's Deployment stays Available while no worker polls the pool: PREFECT-WORKLOADS passes and
    PREFECT-WORKER-HEARTBEAT fails. Read-only, so PREFECT-E2E-FLOW-RUN (a write check), which would rightly fail too
    (no worker picks the flow run up), is out of scope here; test_prefect_api_verdicts covers that pair."""
    with helm.scenario("worker-no-heartbeat"):
        verdicts = helm.run(*NO_HEARTBEAT_SUITES, extra=READ_ONLY)
    assert moved(helm_run, verdicts) == {"PREFECT-WORKER-HEARTBEAT": ("pass", "fail")}
    heartbeat = verdicts.results["PREFECT-WORKER-HEARTBEAT"]
    assert heartbeat["observed_value"] == 0
    assert "sandbox-worker: last heartbeat" in heartbeat["observed"] and "OFFLINE" in heartbeat["observed"]


def test_discovery_on_the_helm_layout_names_the_database_secret_and_key(helm):
    """No targets file, as a user with only a kubeconfig runs it (KUBECONFIG, the default namespace prefect): the
    postgres suite skips, naming the Secret and key the chart's server Deployment takes its database URL from, and
    the targets keys to set; no host is guessed."""
    sandbox = helm.sandbox
    folder = Path(tempfile.mkdtemp(prefix="helm-layout-discovery-", dir=sandbox.ctx.root))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG", "PG"))}
    env.pop("REDIS_URL", None)
    env["PREFECT_HOME"] = str(sandbox.ctx.root / "client-home")
    env["KUBECONFIG"] = sandbox.env()["KUBECONFIG"]
    verdicts = run_suites([ROOT / "suites" / "postgres"], env=env, report_dir=folder / "reports")
    assert not report_problems({"results": list(verdicts.results.values())})
    expected = (
        "Deployment prefect/prefect-server takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret "
        "prefect-server-postgresql-connection key connection-string, which discovery does not read; set postgres.host"
    )
    for requirement in ("PG-VERSION-MIN", "PG-TLS", "PG-CONNECTIONS"):
        result = verdicts.results[requirement]
        assert result["outcome"] == "skip", verdicts.explain(requirement)
        assert expected in result["message"], result["message"]
    assert POSTGRES_HOST not in verdicts.output  # the sandbox's database host appears nowhere: not guessed


@pytest.mark.parametrize("fault", sorted(GATEWAY_FAULTS))
def test_each_gateway_api_fault_on_the_helm_layout_fails_its_requirement_only(helm, helm_run, fault):
    with helm.scenario(fault):
        verdicts = helm.run(*EDGE_SUITES, extra=READ_ONLY)
    assert moved(helm_run, verdicts) == {GATEWAY_FAULTS[fault]: ("pass", "fail")}
