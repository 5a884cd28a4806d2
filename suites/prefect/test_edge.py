"""Prefect behind the edge: the UI is handed a public API URL, and the events websockets pass the edge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from readiness.core.humanize import number
from readiness.probes.http import tls_verify
from readiness.probes.prefect_edge import PrefectEdge, judge_api_url, load_ui_in_browser
from readiness.targets import Targets

WHERE = ("prefect.ui_url", "prefect.api_url", "edge.address")


@pytest.fixture
def edge(targets: Targets, probe_timeout: float) -> Iterator[PrefectEdge]:
    probe = PrefectEdge(
        targets.get("prefect.ui_url"),
        targets.get("prefect.api_url"),
        api_key=targets.get("prefect.api_key"),
        auth_string=targets.get("prefect.auth_string"),
        address=targets.get("edge.address"),
        verify=tls_verify(targets.ca_bundle("edge")),
        timeout=probe_timeout,
    )
    try:
        yield probe
    finally:
        probe.close()


@pytest.fixture
def ui_url(targets: Targets) -> str:
    url = str(targets.require("prefect.ui_url"))
    return url if url.endswith("/") else url + "/"


@pytest.fixture
def api_url(targets: Targets) -> str:
    return str(targets.require("prefect.api_url"))


@pytest.fixture
def report_folder(request: pytest.FixtureRequest, run_id: str) -> Path:
    """Where this run's report lands (reports/<run-id>/), for files a check leaves beside it."""
    base = Path(request.config.getoption("readiness_report_dir"))
    if not base.is_absolute():
        base = Path(request.config.invocation_params.dir) / base
    return base / run_id


@pytest.mark.requirement("PREFECT-UI-API-URL")
def test_ui_is_handed_the_public_api_url(edge, ui_url, targets, expect):
    settings = edge.ui_settings()
    settings.evidence["targets"] = targets.evidence(*WHERE)
    expect.true(
        "GET /ui-settings gives an api_url",
        settings.api_url is not None,
        observed=settings.api_url or "no api_url",
        expected="an api_url",
        evidence=settings.evidence,
    )
    judgement = judge_api_url(settings.api_url, ui_url, edge.api_url)
    expect.true(
        "the UI's API URL (PREFECT_UI_API_URL) is the public API",
        judgement.public,
        observed=f"{judgement.advertised} -> {judgement.resolved}: " + "; ".join(judgement.problems)
        if judgement.problems
        else judgement.resolved,
        expected=f"/api on the UI's host or {edge.api_url}, over https when the UI is",
        evidence={**settings.evidence, "resolved": judgement.resolved, "public_api_url": edge.api_url},
    )
    health = edge.api_health(judgement.resolved)
    expect.true(
        "the UI's API URL answers /health from outside",
        health.healthy,
        observed=health.observed,
        expected="200 true",
        evidence=health.evidence,
    )


@pytest.mark.requirement("PREFECT-UI-API-URL")
def test_ui_in_a_browser_reaches_its_api(edge, ui_url, expect, params, profile, requirement, report_folder):
    if not params.get("browser"):
        pytest.skip("opt-in: set `browser: true` in PREFECT-UI-API-URL's params to load the UI in headless Chromium")
    settings = edge.ui_settings()
    api_base = judge_api_url(settings.api_url or "/api", ui_url, edge.api_url).resolved
    view = load_ui_in_browser(
        ui_url,
        api_base=api_base,
        auth_string=edge.auth_string,
        address=edge.address,
        hosts=[urlsplit(ui_url).hostname or "", urlsplit(api_base).hostname or ""],
        screenshot=report_folder / "screenshots" / "prefect-ui.png",
        timeout=profile.timeout_for(requirement.id) - 15,  # what the check's timeout leaves after /ui-settings
    )
    expect.true(
        'the UI in a browser reaches its API (no "Can\'t connect to Server API")',
        view.reached_api,
        observed=view.summary,
        expected=f"calls to {api_base} answered, no banner",
        evidence=view.evidence,
    )


@pytest.mark.requirement("PREFECT-EVENTS-WEBSOCKET")
def test_events_websockets_upgrade_and_accept_the_credentials(edge, api_url, expect, params):
    edge.timeout = float(params["handshake_s"])  # for the opening handshake and the auth reply
    for path in ("/out", "/in"):
        with edge.events_socket(path) as (_, handshake):
            label = f"/api/events{path}"
            expect.true(
                f"{label} upgrades to a websocket",
                handshake.upgraded,
                observed=handshake.failure or handshake.status,
                expected="101 Switching Protocols",
                evidence=handshake.evidence,
            )
            expect.equal(f"{label} subprotocol", handshake.subprotocol, "prefect", evidence=handshake.evidence)
            expect.true(
                f"{label} accepts the configured credentials",
                handshake.authenticated,
                observed=handshake.auth_reply or handshake.failure,
                expected="auth_success",
                evidence=handshake.evidence,
            )


@pytest.mark.requirement("PREFECT-EVENTS-WEBSOCKET", effect="write")
def test_events_arrive_and_the_websockets_survive_an_idle_gap(edge, api_url, targets, expect, params, run_id):
    """Sends two events for the resource `prefect-readiness.run.<run ID>`. Prefect has no API to delete
    events: they age out with the server's event retention (PREFECT_EVENTS_RETENTION_PERIOD)."""
    edge.timeout = float(params["handshake_s"])
    trip = edge.round_trip(run_id, delivery_timeout=params["delivery_s"], idle_s=params["idle_gap_s"])
    trip.evidence["targets"] = targets.evidence(*WHERE)
    expect.true(
        "an event sent on /api/events/in arrives on /api/events/out",
        trip.delivery_s is not None and trip.delivery_s <= params["delivery_s"],
        observed=f"{number(trip.delivery_s)} s" if trip.delivery_s is not None else trip.failure,
        expected=f"within {params['delivery_s']} s",
        evidence=trip.evidence,
    )
    expect.true(
        "the events websockets survive an idle gap, then deliver",
        trip.survived_idle_s is not None,
        observed=trip.failure if trip.survived_idle_s is None else f"{number(trip.survived_idle_s)} s idle survived",
        expected=f"{params['idle_gap_s']} s idle survived",
        evidence=trip.evidence,
    )
