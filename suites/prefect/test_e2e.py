"""A flow run goes end to end: created, picked up by a worker, COMPLETED, its logs readable; then removed."""

from __future__ import annotations

import contextlib

import pytest

from readiness.core.expect import CheckError
from readiness.core.humanize import number, plural


@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_a_flow_run_completes_and_its_logs_can_be_read(prefect_api, prefect_deployment, run_id, params, expect):
    tags = [run_id, "readiness"]
    created: list[str] = []
    try:
        if prefect_deployment:
            trace = prefect_api.run_deployment(
                prefect_deployment, tags, params["timeout_s"], lambda run: created.append(f"/flow_runs/{run}")
            )
        else:
            trace = prefect_api.run_api_driven(tags, lambda flow: created.append(f"/flows/{flow}"))
    finally:
        # Whatever happened (failure, timeout, Ctrl-C): remove what this check made.
        with contextlib.suppress(CheckError):
            for path in created:
                prefect_api.delete(path)
            prefect_api.delete_tagged(run_id)
    expect.equal(f"state of the flow run ({trace.via})", trace.final_state, "COMPLETED", evidence=trace.evidence)
    expect.at_most("seconds from creation to COMPLETED", trace.seconds, params["timeout_s"], unit="s",
                   evidence=trace.evidence)  # fmt: skip
    expect.at_least(
        "log lines of the flow run read back",
        len(trace.log_lines),
        1,
        evidence=trace.evidence,
        observed_text=f"flow run COMPLETED ({trace.via}) {number(trace.seconds)} s after creation; "
        f"{plural(len(trace.log_lines), 'log line')} read back",
        expected_text=f"the flow run COMPLETED within {number(params['timeout_s'])} s; at least 1 log line read back",
    )
