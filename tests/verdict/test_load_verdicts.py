"""Verdicts of the load suite (Locust in its own processes) on the sandbox, and nothing left behind."""

from __future__ import annotations

import json

import pytest

from readiness.report.model import new_run_id
from tests.verdict.harness import CONFORMANT_PREFECT, CONFORMANT_PREFECT_ARGS, SLOW_PREFECT, SLOW_PREFECT_ARGS
from tests.verdict.prefect_leftovers import tagged_leftovers

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

LOAD = ("LOAD-LATENCY", "LOAD-ERRORS", "LOAD-THROUGHPUT", "LOAD-RECOVERY")
NOTHING = {"flows": [], "flow_runs": [], "work_pools": []}


def _load_section(verdicts) -> dict:
    return json.loads((verdicts.report_dir / "latest" / "conformance.json").read_text())["load"]


def test_conformant_sandbox_passes_the_load_slos_and_leaves_nothing(suites):
    verdicts = suites.shared(*CONFORMANT_PREFECT, **CONFORMANT_PREFECT_ARGS)  # load, --load-capacity, a run id
    run_id = verdicts.run_id
    assert "load" in CONFORMANT_PREFECT and "--load-capacity" in CONFORMANT_PREFECT_ARGS["extra"] and run_id
    for requirement in LOAD:
        assert verdicts.outcome(requirement) == "pass", verdicts.explain(requirement)
    load = _load_section(verdicts)
    assert load["workers_connected"] == 1
    assert set(load["classes"]) == {"poll", "write", "read", "events"}
    ws = {e["name"]: e for e in load["endpoints"] if e["class"] == "events"}
    assert ws["events WS /events/in send"]["requests"] > 10 and ws["events WS /events/out delivery"]["requests"] > 10
    assert not any(e["failures"] for e in ws.values()), ws
    assert load["total"]["requests"] > 50 and load["brake"] == {"stopped": False}
    assert any(e["name"] == "write POST /flow_runs/{id}/set_state" for e in load["endpoints"])
    assert load["history"], "a time series for the charts"
    capacity = load["capacity"]
    assert capacity["curve"][0]["users"] == 2 and capacity["p95_ms"] == 500
    assert capacity["highest_held"] is None or capacity["highest_held"] in capacity["curve"]
    assert tagged_leftovers(suites.sandbox, run_id) == NOTHING
    html = (verdicts.report_dir / "latest" / "conformance.html").read_text()
    assert "p95 latency per endpoint" in html and "Capacity (p95 limit 500" in html
    assert verdicts.code == 0, verdicts.output[-3000:]


def test_slow_api_breaks_the_latency_slo(suites):
    verdicts = suites.shared(*SLOW_PREFECT, **SLOW_PREFECT_ARGS)  # the load under prefect-slow, with a run id
    run_id = verdicts.run_id
    assert "load" in SLOW_PREFECT and SLOW_PREFECT_ARGS["scenario"] == "prefect-slow" and run_id
    latency = verdicts.results["LOAD-LATENCY"]
    assert latency["outcome"] == "warn", verdicts.explain("LOAD-LATENCY")  # recommended: unmet warns
    assert latency["observed_value"] > 1500
    assert verdicts.outcome("LOAD-ERRORS") == "pass", verdicts.explain("LOAD-ERRORS")
    assert tagged_leftovers(suites.sandbox, run_id) == NOTHING


def test_failing_requests_break_the_error_slo_and_pull_the_brake(suites):
    run_id = new_run_id()
    with suites.scenario("prefect-errors"):
        verdicts = suites.run("load", extra=("--run-id", run_id))
    errors = verdicts.results["LOAD-ERRORS"]
    assert errors["outcome"] == "warn", verdicts.explain("LOAD-ERRORS")
    assert errors["observed_value"] > 0.05
    load = _load_section(verdicts)
    assert load["brake"]["stopped"] is True and "error ratio" in load["brake"]["reason"], load["brake"]
    assert verdicts.outcome("LOAD-THROUGHPUT") == "warn", verdicts.explain("LOAD-THROUGHPUT")
    assert tagged_leftovers(suites.sandbox, run_id) == NOTHING


def test_an_ingress_that_refuses_websockets_breaks_the_error_slo_for_the_events_class(suites):
    run_id = new_run_id()
    with suites.scenario("ingress-no-websocket"):
        verdicts = suites.run("load", extra=("--run-id", run_id))
    assert verdicts.outcome("LOAD-ERRORS") == "warn", verdicts.explain("LOAD-ERRORS")  # recommended: unmet warns
    load = _load_section(verdicts)
    failing = {e["name"] for e in load["endpoints"] if e["failures"]}
    assert failing and all(name.startswith("events WS ") for name in failing), failing
    assert load["classes"]["events"]["failures"] > 0 and load["classes"]["read"]["failures"] == 0
    assert tagged_leftovers(suites.sandbox, run_id) == NOTHING


def test_a_prefect_restart_during_the_load_breaks_recovery_naming_the_pod_and_nothing_else(suites):
    run_id = new_run_id()
    with suites.scenario("prefect-restart-during-load"):
        verdicts = suites.run("load", extra=("--run-id", run_id))
    recovery = verdicts.results["LOAD-RECOVERY"]
    assert recovery["outcome"] == "warn", verdicts.explain("LOAD-RECOVERY")  # recommended: unmet warns
    assert "prefect/prefect-server-" in recovery["observed"], recovery["observed"]
    assert "restart count 0 before the load, 1 after" in recovery["observed"], recovery["observed"]
    for requirement in ("LOAD-LATENCY", "LOAD-ERRORS", "LOAD-THROUGHPUT"):
        assert verdicts.outcome(requirement) == "pass", verdicts.explain(requirement)
    assert tagged_leftovers(suites.sandbox, run_id) == NOTHING
