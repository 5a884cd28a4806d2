"""Verdicts of the Prefect-behind-the-edge checks on the sandbox: the UI's API URL and the events websockets.

One run of the Prefect suite on the conformant sandbox, then one per scenario; each scenario must turn its
own requirement to fail and leave every other Prefect requirement as the conformant run had it. The
end-to-end flow run (a write check whose duration follows the machine's load, proven by the Prefect
suite's own verdicts) is left out of these runs; the ingress scenarios also leave out the browser check,
whose page load on a busy shared machine is what a 3 s proxy timeout would cut, not what they prove.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from readiness.sandbox.services.ingress import IDLE_TIMEOUT_KEY, IDLE_TIMEOUT_S
from tests.suite_run import ROOT, Verdicts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

EDGE = ("PREFECT-UI-API-URL", "PREFECT-EVENTS-WEBSOCKET")
WITHOUT_E2E = ("--ignore", "suites/prefect/test_e2e.py")
WITHOUT_BROWSER = (*WITHOUT_E2E, "--deselect", "suites/prefect/test_edge.py::test_ui_in_a_browser_reaches_its_api")


@pytest.fixture(scope="module")
def conformant(suites) -> Verdicts:
    return suites.run("prefect", extra=WITHOUT_E2E)


def _check(verdicts: Verdicts, requirement: str, name: str) -> dict:
    return next(c for c in verdicts.results[requirement]["checks"] if c["nodeid"].endswith(name))


def _others_unchanged(verdicts: Verdicts, conformant: Verdicts, broken: str) -> None:
    for requirement, result in conformant.results.items():
        if result["component"] == "prefect" and requirement != broken:
            assert verdicts.outcome(requirement) == result["outcome"], verdicts.explain(requirement)


def _events_socket_settled(suites, within: float = 90) -> None:
    """A restarted Prefect server answers /api/ready before its websocket endpoints answer promptly on a
    busy machine; wait for a handshake straight to the server, so the run measures the scenario only."""
    url = f"ws://127.0.0.1:{suites.sandbox.ctx.port('prefect')}/api/events/out"
    deadline = time.monotonic() + within
    while True:
        try:
            connect(url, subprotocols=["prefect"], open_timeout=5).close()  # type: ignore[list-item]
            return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def test_conformant_sandbox_passes_both_edge_requirements(conformant):
    for requirement in EDGE:
        assert conformant.outcome(requirement) == "pass", conformant.explain(requirement)
    handshake = _check(conformant, "PREFECT-EVENTS-WEBSOCKET", "upgrade_and_accept_the_credentials")
    evidence = handshake["observations"][-1]["evidence"]
    assert (evidence["status"], evidence["subprotocol"], evidence["auth_reply"]) == (101, "prefect", "auth_success")
    trip = _check(conformant, "PREFECT-EVENTS-WEBSOCKET", "survive_an_idle_gap")["observations"][-1]["evidence"]
    assert trip["delivery_s"] < 15 and trip["survived_idle_s"] == 8
    browser = _check(conformant, "PREFECT-UI-API-URL", "reaches_its_api")
    shown = browser["observations"][-1]["evidence"]
    assert browser["outcome"] == "pass" and shown["banner"] is None and shown["api_calls"]
    assert Path(shown["screenshot"]).is_file()
    assert Path(shown["screenshot"]).is_relative_to(conformant.report_dir)


def test_internal_ui_api_url_fails_ui_api_url_in_both_checks(suites, conformant):
    with suites.scenario("ui-api-url-internal"):
        _events_socket_settled(suites)
        verdicts = suites.run("prefect", extra=WITHOUT_E2E)
    assert verdicts.outcome("PREFECT-UI-API-URL") == "fail", verdicts.explain("PREFECT-UI-API-URL")
    rule = _check(verdicts, "PREFECT-UI-API-URL", "handed_the_public_api_url")
    assert "a local address (127.0.0.1)" in rule["message"] and "mixed content" in rule["message"]
    browser = _check(verdicts, "PREFECT-UI-API-URL", "reaches_its_api")
    assert browser["outcome"] == "fail", browser["message"]
    assert "http://127.0.0.1:4200/api" in browser["message"]
    _others_unchanged(verdicts, conformant, "PREFECT-UI-API-URL")


def test_ingress_without_websocket_headers_fails_the_events_websocket(suites, conformant):
    _events_socket_settled(suites)
    with suites.scenario("ingress-no-websocket"):
        verdicts = suites.run("prefect", extra=WITHOUT_BROWSER)
    assert verdicts.outcome("PREFECT-EVENTS-WEBSOCKET") == "fail", verdicts.explain("PREFECT-EVENTS-WEBSOCKET")
    handshake = _check(verdicts, "PREFECT-EVENTS-WEBSOCKET", "upgrade_and_accept_the_credentials")
    evidence = handshake["observations"][-1]["evidence"]
    assert evidence["status"] != 101
    assert "dropped the Upgrade/Connection headers" in evidence["layer"]
    _others_unchanged(verdicts, conformant, "PREFECT-EVENTS-WEBSOCKET")


def test_ingress_idle_timeout_fails_only_the_idle_gap(suites, conformant, tmp_path):
    # The scenario's idle timeout and the check's idle gap come from the round trip this machine measured
    # in the conformant run: a busy machine's delivery must fit inside the timeout, or the cut lands on
    # the round trip before the gap and the run proves nothing about the gap. At least 10 s: the tests of the
    # other xdist worker (tox's -n 2) may load the machine during this run and not during the conformant one.
    trip = _check(conformant, "PREFECT-EVENTS-WEBSOCKET", "survive_an_idle_gap")["observations"][-1]["evidence"]
    timeout_s = max(IDLE_TIMEOUT_S, 10, math.ceil(3 * float(trip["delivery_s"])) + 2)
    gap_s = timeout_s + 5
    profile = tmp_path / "idle.yaml"
    profile.write_text(
        f"name: idle\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nrequirements:\n"
        f"  PREFECT-EVENTS-WEBSOCKET: {{params: {{idle_gap_s: {gap_s}}}}}\n"
    )
    _events_socket_settled(suites)
    suites.sandbox.ctx.set(IDLE_TIMEOUT_KEY, timeout_s)
    try:
        with suites.scenario("ingress-idle-timeout"):
            verdicts = suites.run("prefect", profile=str(profile), extra=WITHOUT_BROWSER)
    finally:
        suites.sandbox.ctx.set(IDLE_TIMEOUT_KEY, IDLE_TIMEOUT_S)
    assert verdicts.outcome("PREFECT-EVENTS-WEBSOCKET") == "fail", verdicts.explain("PREFECT-EVENTS-WEBSOCKET")
    handshake = _check(verdicts, "PREFECT-EVENTS-WEBSOCKET", "upgrade_and_accept_the_credentials")
    assert handshake["outcome"] == "pass"
    trip = _check(verdicts, "PREFECT-EVENTS-WEBSOCKET", "survive_an_idle_gap")
    assert trip["outcome"] == "fail"
    assert f"did not survive {gap_s} s idle" in trip["message"] and "1006" in trip["message"], trip["message"]
    assert trip["observations"][0]["met"] is True  # delivery before the gap still worked
    _others_unchanged(verdicts, conformant, "PREFECT-EVENTS-WEBSOCKET")
