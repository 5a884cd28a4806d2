"""The load suite's one Locust run, shared by its four checks (started once, in its own processes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import pytest

from load.runner import (
    LoadResult,
    LoadShape,
    Recovery,
    baseline,
    capacity_curve,
    measure_recovery,
    pod_restarts,
    restarted_during,
    run_load,
)
from readiness.core.profile import Profile
from readiness.engine.plugin import record_load
from readiness.probes.http import tls_verify
from readiness.probes.prefect import PrefectAPI
from readiness.targets import Targets, prefect_target


@dataclass(frozen=True)
class LoadRun:
    result: LoadResult
    recovery: Recovery
    #: where the load went (the API URL, the Prefect namespace): what a remediation names
    where: dict

    @property
    def evidence(self) -> dict:
        return {**self.result.evidence(), **self.where}


@pytest.fixture(scope="session")
def load_run(request: pytest.FixtureRequest, profile: Profile, targets: Targets, run_id: str) -> LoadRun:
    targets.require("prefect.api_url")
    workers = request.config.getoption("readiness_load_workers", None)
    shape = LoadShape.from_params(profile.requirements["LOAD-THROUGHPUT"].params, workers)
    recovery_params = profile.requirements["LOAD-RECOVERY"].params
    ca_bundle = targets.ca_bundle()
    api = PrefectAPI(prefect_target(targets=targets), timeout=10.0, verify=tls_verify(ca_bundle))
    try:
        before = baseline(api)
        restarts_before, _ = pod_restarts(targets)
        result = run_load(api, run_id, shape, ca_bundle=ca_bundle)
        recovery = measure_recovery(
            api, before, float(recovery_params["max_seconds"]) + 5, float(recovery_params["max_read_ms"])
        )
        restarts_after, where = pod_restarts(targets)
        restarted = restarted_during(restarts_before, restarts_after)
        restarts = None if restarted is None else sum(after - before for before, after in restarted.values())
        restarts_evidence = {"during_load": restarts, "pods": restarted, "where": where}
        evidence = {**recovery.evidence, "pod_restarts": restarts_evidence, **_where(targets)}
        recovery = replace(recovery, pod_restarts=restarts, restarted_pods=restarted or {}, evidence=evidence)
        capacity = None
        if request.config.getoption("readiness_load_capacity", False):
            steps = profile.requirements["LOAD-THROUGHPUT"].params.get("capacity") or {}
            capacity = capacity_curve(api, run_id, shape, [int(u) for u in steps.get("users", [2, 4, 8, 16, 32])],
                                      float(steps.get("step_s", 10)), float(steps.get("p95_ms", 500)),
                                      ca_bundle=ca_bundle)  # fmt: skip
    finally:
        api.close()
    record_load(request.config, {**result.to_report(), "recovery": asdict(recovery), "capacity": capacity})
    return LoadRun(result, recovery, _where(targets))


def _where(targets: Targets) -> dict:
    return targets.evidence("prefect.api_url", "kubernetes.namespace")
