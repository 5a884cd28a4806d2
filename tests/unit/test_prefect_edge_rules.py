"""The rules of the Prefect edge probe without a server: the UI's API URL, and who refused a websocket."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from readiness.probes.prefect_edge import closed_by, judge_api_url, rejected_by

UI = "https://app.example.com/"
API = "https://api.example.com/api"


@pytest.mark.parametrize(
    ("advertised", "ui_url", "resolved"),
    [
        ("/api", UI, "https://app.example.com/api"),
        ("/api", "https://app.example.com", "https://app.example.com/api"),
        ("/prefect/api", "https://example.com/prefect/", "https://example.com/prefect/api"),
        ("https://api.example.com/api", UI, API),
        ("https://api.example.com/api/", UI, "https://api.example.com/api/"),
        ("https://app.example.com:443/api", UI, "https://app.example.com:443/api"),
        ("http://app.example.com/api", "http://app.example.com/", "http://app.example.com/api"),
    ],
)
def test_public_api_urls_pass(advertised, ui_url, resolved):
    judgement = judge_api_url(advertised, ui_url, API)
    assert judgement.public, judgement.problems
    assert judgement.resolved == resolved


@pytest.mark.parametrize(
    ("advertised", "problem"),
    [
        ("http://localhost:4200/api", "a local address (localhost)"),
        ("http://127.0.0.1:4200/api", "a local address (127.0.0.1)"),
        ("https://127.0.0.2/api", "a local address (127.0.0.2)"),
        ("https://0.0.0.0:4200/api", "a local address (0.0.0.0)"),
        ("https://[::1]:4200/api", "a local address (::1)"),
        ("https://ui.localhost/api", "a local address (ui.localhost)"),
        ("http://prefect-server.prefect.svc.cluster.local:4200/api", "a cluster-internal name"),
        ("https://prefect-server.prefect.svc/api", "a cluster-internal name"),
        ("https://prefect-server.cluster.local/api", "a cluster-internal name"),
        ("http://app.example.com/api", "plain http under an https UI"),
        ("http://api.example.com/api", "plain http under an https UI"),
        ("https://other.example.org/api", "another host (other.example.org:443)"),
        ("https://api.example.com/v2/api", "another host (api.example.com:443)"),
        ("https://app.example.com:8443/api", "another host (app.example.com:8443)"),
        ("ftp://app.example.com/api", "not an http(s) URL"),
    ],
)
def test_urls_a_browser_cannot_use_fail_with_the_reason(advertised, problem):
    judgement = judge_api_url(advertised, UI, API)
    assert not judgement.public
    assert any(problem in p for p in judgement.problems), judgement.problems


def test_another_host_passes_only_when_it_is_the_targets_api_url():
    assert judge_api_url(API, UI, API).public
    assert not judge_api_url(API, UI, None).public
    assert "the UI's own host" in judge_api_url(API, UI, None).problems[0]


def test_local_and_mixed_content_are_both_reported():
    judgement = judge_api_url("http://127.0.0.1:4200/api", UI, API)
    assert len(judgement.problems) == 2
    assert judgement.resolved == "http://127.0.0.1:4200/api"


def test_a_refused_upgrade_names_the_layer():
    assert "dropped the Upgrade/Connection headers" in rejected_by(401, "nginx", '{"exception_message":"Unauthorized"}')
    assert "dropped the Upgrade/Connection headers" in rejected_by(404, None, '{"detail":"Not Found"}')
    assert "(Server: awselb/2.0)" in rejected_by(403, "awselb/2.0", "<html>Forbidden</html>")
    assert "could not open or keep a websocket" in rejected_by(502, "nginx", "<html>Bad Gateway</html>")


def test_a_close_names_the_layer():
    assert "idle timeout" in closed_by(ConnectionClosedError(None, None))
    assert "1008" in closed_by(ConnectionClosedError(Close(1008, "Invalid token"), None))
    assert "Invalid token" in closed_by(ConnectionClosedError(Close(1008, "Invalid token"), None))
    assert "code 1011" in closed_by(ConnectionClosedError(Close(1011, ""), None))
