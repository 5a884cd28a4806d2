"""The Prefect API under realistic load (Locust): latency, errors, throughput, recovery against the SLOs."""

from __future__ import annotations

import pytest


@pytest.mark.requirement("LOAD-LATENCY", effect="load")
def test_latency_per_endpoint_class_stays_within_the_slo(load_run, params, expect):
    result = load_run.result
    for percentile in ("p50_ms", "p95_ms", "p99_ms"):
        for endpoint_class, limit in (params.get(percentile) or {}).items():
            observed = result.classes.get(endpoint_class)
            expect.at_most(
                f"{percentile[:3]} latency of {endpoint_class} requests under load",
                getattr(observed, percentile, None),
                limit,
                unit="ms",
                evidence=load_run.evidence,
            )


@pytest.mark.requirement("LOAD-ERRORS", effect="load")
def test_error_ratio_stays_within_the_slo(load_run, params, expect):
    result = load_run.result
    expect.at_most("share of requests that failed under load", result.error_ratio, params["max_ratio"],
                   unit="ratio", evidence=load_run.evidence)  # fmt: skip


@pytest.mark.requirement("LOAD-THROUGHPUT", effect="load")
def test_the_api_sustains_the_target_throughput(load_run, params, expect):
    result = load_run.result
    expect.true(
        "the load ran its full duration (safety brake not pulled)",
        not result.stopped_by_brake,
        observed=result.brake.get("reason", "ran its full duration"),
        expected="ran its full duration",
        evidence=load_run.evidence,
    )
    expect.at_least("requests per second sustained", result.total.rps, params["min_rps"], unit="req/s",
                    evidence=load_run.evidence)  # fmt: skip


@pytest.mark.requirement("LOAD-RECOVERY", effect="load")
def test_the_api_recovers_after_the_load(load_run, params, expect):
    recovery = load_run.recovery
    expect.true("the API was live and ready before the load", recovery.ready_before, evidence=recovery.evidence)
    expect.at_most(
        f"seconds after the load until the API is ready and a read answers within {recovery.max_read_ms:g} ms",
        recovery.seconds,
        params["max_seconds"],
        unit="s",
        evidence=recovery.evidence,
    )
    if recovery.pod_restarts is not None:  # measured when a Kubernetes target is configured
        named = [f"{pod} restarted (restart count {before} before the load, {after} after)"
                 for pod, (before, after) in recovery.restarted_pods.items()]  # fmt: skip
        expect.true("no pod in the Prefect namespace restarted during the load", not named,
                    observed="; ".join(named) or "no pod restarted", expected="no pod restarted",
                    evidence=recovery.evidence)  # fmt: skip
        expect.equal("container restarts in the Prefect namespace during the load", recovery.pod_restarts, 0,
                     unit="restarts", evidence=recovery.evidence)  # fmt: skip
