"""Verdicts of the Prefect suite on the whole sandbox: through the TLS ingress, on PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from tests.verdict.harness import CONFORMANT_PREFECT, CONFORMANT_PREFECT_ARGS, SLOW_PREFECT, SLOW_PREFECT_ARGS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: the checks these tests assert on (health and version); the rest of the suite has verdict tests of its own
API_CHECKS = "prefect/test_api.py"


def test_conformant_sandbox_passes_the_prefect_api_checks(suites):
    verdicts = suites.shared(*CONFORMANT_PREFECT, **CONFORMANT_PREFECT_ARGS)  # API_CHECKS among them
    assert verdicts.outcome("PREFECT-API-HEALTH") == "pass", verdicts.explain("PREFECT-API-HEALTH")
    assert verdicts.outcome("PREFECT-API-VERSION") == "pass", verdicts.explain("PREFECT-API-VERSION")
    assert verdicts.results["PREFECT-API-VERSION"]["evidence"]["server"]["request"].startswith("GET https://")


def test_database_down_fails_api_health_and_nothing_else(suites):
    with suites.scenario("prefect-db-down"):
        verdicts = suites.run(API_CHECKS)
    health = verdicts.results["PREFECT-API-HEALTH"]
    assert health["outcome"] == "fail", verdicts.explain("PREFECT-API-HEALTH")
    assert health["observed_value"].startswith("503")
    assert verdicts.code == 1


def test_slow_api_still_passes_health_within_its_timeout(suites):
    verdicts = suites.shared(*SLOW_PREFECT, **SLOW_PREFECT_ARGS)  # API_CHECKS under prefect-slow, with the load
    assert API_CHECKS in SLOW_PREFECT and SLOW_PREFECT_ARGS["scenario"] == "prefect-slow"
    assert verdicts.outcome("PREFECT-API-HEALTH") == "pass", verdicts.explain("PREFECT-API-HEALTH")
    assert verdicts.results["PREFECT-API-HEALTH"]["evidence"]["elapsed_ms"] >= 900
