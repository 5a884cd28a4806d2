"""Verdicts of the Prefect API checks against a real Prefect 3 server (SQLite) the tests start.

The sandbox verdict tests cover the same checks on the full install (PostgreSQL, Redis, ingress).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from readiness.core.model import EXIT_INCOMPLETE
from tests.prefect_server import PrefectServer, prefect_server, silent_server
from tests.suite_run import ROOT, run_suites

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> PrefectServer:
    with prefect_server(tmp_path_factory.mktemp("prefect-home")) as running:
        yield running


def run_suite(tmp_path: Path, env_overrides: dict[str, str], *args: str) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "client-home")
    env.update(env_overrides)
    profile, extra = args[1], args[2:]  # callers pass "--profile", NAME, ...
    # The API checks these tests are about: the suite's other checks (websockets, a browser, an end-to-end
    # run) keep their own, longer timeouts and have verdict tests of their own.
    verdicts = run_suites([ROOT / "suites" / "prefect" / "test_api.py"], env=env, report_dir=tmp_path / "reports",
                          profile=profile, extra=extra, timeout=180)  # fmt: skip
    return verdicts.code, verdicts.results, verdicts.output


def test_conformant_server_passes_health_and_version(server, tmp_path):
    code, results, output = run_suite(
        tmp_path,
        {"PREFECT_API_URL": server.url, "PREFECT_API_AUTH_STRING": server.auth_string},
        "--profile",
        "sandbox",
    )
    assert results["PREFECT-API-HEALTH"]["outcome"] == "pass", output
    assert results["PREFECT-API-VERSION"]["outcome"] == "pass", output
    assert results["PREFECT-API-VERSION"]["observed_value"].startswith("3.")
    assert results["PREFECT-API-HEALTH"]["evidence"]["request"].endswith("/api/ready")
    assert server.auth_string.split(":")[1] not in output
    # nothing failed; INCOMPLETE (101) while required Prefect requirements still lack a check
    assert code in (0, EXIT_INCOMPLETE), output


def test_server_older_than_the_profile_minimum_fails_version(server, tmp_path):
    profile = tmp_path / "future.yaml"
    profile.write_text(
        f"name: future\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nrequirements:\n"
        "  PREFECT-API-VERSION:\n    params: {min_server: '99.0'}\n"
    )
    code, results, output = run_suite(
        tmp_path,
        {"PREFECT_API_URL": server.url, "PREFECT_API_AUTH_STRING": server.auth_string},
        "--profile",
        str(profile),
    )
    assert results["PREFECT-API-VERSION"]["outcome"] == "fail"
    assert results["PREFECT-API-VERSION"]["expected_value"] == "99.0"
    assert code == 1


def test_wrong_credentials_are_an_error_with_the_cause(server, tmp_path):
    _, results, output = run_suite(
        tmp_path,
        {"PREFECT_API_URL": server.url, "PREFECT_API_AUTH_STRING": "admin:wrong-password"},
        "--profile",
        "sandbox",
    )
    assert results["PREFECT-API-VERSION"]["outcome"] == "error"
    assert "credentials were not accepted" in results["PREFECT-API-VERSION"]["message"]
    assert "wrong-password" not in output


def test_settings_from_the_active_prefect_profile_are_used(server, tmp_path):
    home = tmp_path / "client-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        f'active = "selfmanaged"\n[profiles.selfmanaged]\nPREFECT_API_URL = "{server.url}"\n'
        f'PREFECT_API_AUTH_STRING = "{server.auth_string}"\n'
    )
    _, results, _ = run_suite(tmp_path, {}, "--profile", "sandbox")
    assert results["PREFECT-API-VERSION"]["outcome"] == "pass"


def test_unreachable_api_is_an_error_in_bounded_time(tmp_path):
    started = time.monotonic()
    code, results, _ = run_suite(tmp_path, {"PREFECT_API_URL": "http://127.0.0.1:9/api"}, "--profile", "sandbox")
    assert results["PREFECT-API-HEALTH"]["outcome"] == "error"
    assert "refused" in results["PREFECT-API-HEALTH"]["message"]
    assert code == 1
    assert time.monotonic() - started < 60


def test_silent_api_is_an_error_within_its_timeout(tmp_path):
    profile = tmp_path / "fast.yaml"
    profile.write_text(f"name: fast\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nsettings:\n  default_timeout: 2\n")
    with silent_server() as url:
        started = time.monotonic()
        _, results, _ = run_suite(tmp_path, {"PREFECT_API_URL": url}, "--profile", str(profile))
    assert results["PREFECT-API-HEALTH"]["outcome"] == "error"
    assert "did not answer in time" in results["PREFECT-API-HEALTH"]["message"]
    assert time.monotonic() - started < 30


def test_worker_heartbeat_needs_an_unpaused_pool_with_a_recently_beating_worker(server, tmp_path):
    """PREFECT-WORKER-HEARTBEAT on a real server: a missing pool, a paused pool and a pool no worker ever polled
    fail, each with its reason; a worker heartbeat sent through the API (as `prefect worker start` sends it) passes."""
    import httpx

    api = httpx.Client(base_url=server.url, auth=tuple(server.auth_string.split(":", 1)), timeout=10)
    for pool, paused in (("hb-idle", False), ("hb-paused", True), ("hb-live", False)):
        assert api.post("/work_pools/", json={"name": pool, "type": "process", "is_paused": paused}).status_code == 201
    heartbeat = {"name": "hb-worker", "heartbeat_interval_seconds": 5}
    beat = api.post("/work_pools/hb-live/workers/heartbeat", json=heartbeat)
    assert beat.status_code == 204, beat.text
    api.close()

    targets = tmp_path / "targets.yaml"

    def verdict(pool: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
        env.update(PREFECT_API_URL=server.url, PREFECT_API_AUTH_STRING=server.auth_string,
                   PREFECT_HOME=str(tmp_path / "client-home"), READINESS_TARGETS=str(targets))  # fmt: skip
        targets.write_text(f"prefect:\n  work_pool: {pool}\n")
        verdicts = run_suites([ROOT / "suites" / "prefect" / "test_workers.py"], env=env,
                              report_dir=tmp_path / f"reports-{pool}", timeout=120)  # fmt: skip
        return verdicts.results["PREFECT-WORKER-HEARTBEAT"]

    missing, paused, idle, live = (verdict(p) for p in ("hb-missing", "hb-paused", "hb-idle", "hb-live"))
    assert missing["outcome"] == "fail" and "no work pool named hb-missing" in missing["observed"], missing
    assert paused["outcome"] == "fail" and "hb-paused is paused" in paused["observed"], paused
    assert idle["outcome"] == "fail" and "the API lists no worker for it" in idle["observed"], idle
    assert live["outcome"] == "pass", live
    assert "hb-worker: last heartbeat" in live["observed"] and live["evidence"]["work_pool"] == "hb-live"
