"""Verdicts of PREFECT-API-AUTHN, PREFECT-E2E-FLOW-RUN and PREFECT-WORKER-HEARTBEAT on the sandbox, and nothing
left behind."""

from __future__ import annotations

import pytest

from readiness.report.model import new_run_id
from tests.suite_run import ROOT
from tests.verdict.harness import CONFORMANT_PREFECT, CONFORMANT_PREFECT_ARGS
from tests.verdict.prefect_leftovers import tagged_leftovers

pytestmark = [pytest.mark.slow]
sandbox = pytest.mark.sandbox

CHECKS = ("prefect/test_authn.py", "prefect/test_e2e.py", "prefect/test_workers.py")


@sandbox
def test_conformant_sandbox_passes_authn_a_flow_run_end_to_end_and_a_polling_worker(suites):
    verdicts = suites.shared(*CONFORMANT_PREFECT, **CONFORMANT_PREFECT_ARGS)  # CHECKS among them
    run_id = verdicts.run_id
    assert set(CHECKS) <= set(CONFORMANT_PREFECT) and run_id
    assert verdicts.outcome("PREFECT-API-AUTHN") == "pass", verdicts.explain("PREFECT-API-AUTHN")
    assert verdicts.outcome("PREFECT-E2E-FLOW-RUN") == "pass", verdicts.explain("PREFECT-E2E-FLOW-RUN")
    e2e = verdicts.results["PREFECT-E2E-FLOW-RUN"]["evidence"]
    assert e2e["via"].startswith("deployment readiness-probe/sandbox")
    assert "RUNNING" in e2e["states"] and e2e["states"][-1] == "COMPLETED"
    assert any("readiness probe says" in line for line in e2e["log_lines"]), e2e
    authn = verdicts.results["PREFECT-API-AUTHN"]["checks"][0]["observations"][0]["evidence"]
    assert {a["credentials"] for a in authn["attempts"]} == {"configured", "none", "wrong"}
    assert verdicts.outcome("PREFECT-WORKER-HEARTBEAT") == "pass", verdicts.explain("PREFECT-WORKER-HEARTBEAT")
    heartbeat = verdicts.results["PREFECT-WORKER-HEARTBEAT"]
    assert heartbeat["evidence"]["work_pool"] == "sandbox-process"
    assert [w["name"] for w in heartbeat["evidence"]["workers"]] == ["sandbox-worker"]
    assert tagged_leftovers(suites.sandbox, run_id) == {"flows": [], "flow_runs": [], "work_pools": []}
    assert verdicts.code == 0, verdicts.output[-3000:]


@sandbox
def test_open_api_fails_authn(suites):
    with suites.scenario("prefect-no-auth"):
        verdicts = suites.run("prefect/test_authn.py")
    authn = verdicts.results["PREFECT-API-AUTHN"]
    assert authn["outcome"] == "fail", verdicts.explain("PREFECT-API-AUTHN")
    assert "without credentials" in authn["message"]
    assert any("POST /flows/filter -> 200" in item for item in authn["observed_value"])


@sandbox
def test_stopped_worker_fails_the_end_to_end_run_and_the_heartbeat_and_leaves_nothing(suites, tmp_path):
    """The sandbox worker beats every 5 s; the heartbeat check runs after the end-to-end one has waited 12 s for a
    worker, so with a 10 s limit the stopped worker's last heartbeat is stale for certain."""
    profile = tmp_path / "short-e2e.yaml"
    profile.write_text(
        f"name: short-e2e\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nrequirements:\n"
        "  PREFECT-E2E-FLOW-RUN:\n    params: {timeout_s: 12}\n"
        "  PREFECT-WORKER-HEARTBEAT:\n    params: {max_heartbeat_age_s: 10}\n"
    )
    run_id = new_run_id()
    with suites.scenario("prefect-worker-down"):
        verdicts = suites.run(
            "prefect/test_e2e.py", "prefect/test_workers.py", profile=f"{profile}", extra=("--run-id", run_id)
        )
    e2e = verdicts.results["PREFECT-E2E-FLOW-RUN"]
    assert e2e["outcome"] == "fail", verdicts.explain("PREFECT-E2E-FLOW-RUN")
    assert e2e["observed_value"] == "SCHEDULED"
    heartbeat = verdicts.results["PREFECT-WORKER-HEARTBEAT"]
    assert heartbeat["outcome"] == "fail", verdicts.explain("PREFECT-WORKER-HEARTBEAT")
    assert heartbeat["observed_value"] == 0
    assert "sandbox-worker: last heartbeat" in heartbeat["observed"]
    assert tagged_leftovers(suites.sandbox, run_id) == {"flows": [], "flow_runs": [], "work_pools": []}


def test_without_a_deployment_the_check_drives_a_tagged_flow_run_itself_and_removes_it(tmp_path):
    """A plain Prefect server (SQLite, no work pool, no deployment in the targets): the API-driven path."""
    import os

    from readiness.probes.prefect import PrefectAPI
    from readiness.targets import PrefectTarget
    from tests.prefect_server import prefect_server
    from tests.suite_run import run_suites

    run_id = new_run_id()
    with prefect_server(tmp_path / "server-home", timeout=300) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
        env.update(PREFECT_API_URL=server.url, PREFECT_API_AUTH_STRING=server.auth_string,
                   PREFECT_HOME=str(tmp_path / "client-home"))  # fmt: skip
        verdicts = run_suites([ROOT / "suites" / "prefect" / "test_e2e.py"], env=env,
                              report_dir=tmp_path / "reports", extra=("--run-id", run_id), timeout=180)  # fmt: skip
        api = PrefectAPI(PrefectTarget(server.url, None, server.auth_string, "test"))
        try:
            left = api.tagged(run_id)
        finally:
            api.close()
    e2e = verdicts.results["PREFECT-E2E-FLOW-RUN"]
    assert e2e["outcome"] == "pass", verdicts.explain("PREFECT-E2E-FLOW-RUN")
    assert e2e["evidence"]["via"].startswith("API-driven flow run (no deployment configured)")
    assert e2e["evidence"]["states"][-1] == "COMPLETED"
    assert left == {"flows": [], "flow_runs": []}
