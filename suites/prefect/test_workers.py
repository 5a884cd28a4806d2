"""The work pool flow runs go to has a worker polling it: the API lists one whose heartbeat is recent."""

from __future__ import annotations

import pytest

from readiness.core.humanize import number, plural


@pytest.fixture
def work_pool(prefect_api, targets, prefect_deployment) -> tuple[str, str]:
    """(pool name, where it came from): prefect.work_pool, else the work pool of prefect.deployment."""
    pool = targets.get("prefect.work_pool")
    if pool:
        return str(pool), "targets key prefect.work_pool"
    if prefect_deployment:
        from_deployment = prefect_api.deployment_work_pool(prefect_deployment)
        if from_deployment:
            return from_deployment, f"the work pool of deployment {prefect_deployment}"
    pytest.skip(
        "no work pool to judge: set the targets key prefect.work_pool (the prefect-worker chart's value "
        "worker.config.workPool) or prefect.deployment"
    )


@pytest.mark.requirement("PREFECT-WORKER-HEARTBEAT")
def test_a_worker_polls_the_work_pool_with_a_recent_heartbeat(prefect_api, work_pool, targets, params, expect):
    pool, origin = work_pool
    limit = float(params["max_heartbeat_age_s"])
    state = prefect_api.pool_workers(pool)
    evidence = {**state.evidence, "work_pool": pool, "work_pool_from": origin}
    if origin.startswith("targets key"):
        evidence.update(targets.evidence("prefect.work_pool"))
    expect.true(
        f"work pool {pool} exists",
        state.exists,
        observed_text=f"work pool {pool} exists ({state.pool_type})"
        if state.exists
        else f"the API has no work pool named {pool} (from {origin})",
        expected_text=f"work pool {pool} exists on the Prefect server",
        evidence=evidence,
    )
    expect.true(
        f"work pool {pool} is not paused",
        not state.paused,
        observed_text=f"work pool {pool} is paused: flow runs wait in it and no worker picks them up"
        if state.paused
        else f"work pool {pool} is not paused",
        expected_text=f"work pool {pool} is not paused",
        evidence=evidence,
    )
    fresh = state.fresh(limit)
    newest = min((w.last_heartbeat_age_s for w in state.workers if w.last_heartbeat_age_s is not None), default=None)
    if not state.workers:
        seen = "the API lists no worker for it"
    else:
        seen = f"{plural(len(state.workers), 'worker')} listed: " + "; ".join(w.describe() for w in state.workers)
    expect.at_least(
        f"workers polling work pool {pool} with a heartbeat in the last {number(limit)} s",
        len(fresh),
        1,
        unit="worker",
        evidence=evidence,
        observed_text=f"work pool {pool} ({state.pool_type}, {state.pool_status or 'status not given'}): "
        f"{plural(len(fresh), 'worker')} with a heartbeat in the last {number(limit)} s; {seen}"
        + ("" if newest is None else f"; newest heartbeat {number(newest)} s ago"),
        expected_text=f"at least 1 worker polling work pool {pool} ({origin}) with its last heartbeat at most "
        f"{number(limit)} s ago",
    )
