"""What a run left in the sandbox Prefect API: flows and flow runs tagged with its run ID, its load work pool."""

from __future__ import annotations

from readiness.probes.prefect import PrefectAPI
from readiness.sandbox import Sandbox
from readiness.targets import PrefectTarget


def tagged_leftovers(sandbox: Sandbox, run_id: str) -> dict[str, list[str]]:
    env = sandbox.env()
    target = PrefectTarget(env["READINESS_PREFECT_INTERNAL_URL"], None, env["PREFECT_API_AUTH_STRING"], "sandbox")
    api = PrefectAPI(target, timeout=15)
    try:
        left = api.tagged(run_id)
        pool = api.get(f"/work_pools/readiness-load-{run_id}")
        left["work_pools"] = [f"readiness-load-{run_id}"] if pool.status_code == 200 else []
        return left
    finally:
        api.close()
