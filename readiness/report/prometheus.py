"""The run as Prometheus metrics: a text file beside the report (for node_exporter's textfile collector or
any scraper of files) and an optional push to a Pushgateway, both from the canonical report dict.

Metrics (one series per outcome, 0 or 1, so an alert can watch `== 1` and a series never goes stale):
- readiness_requirement_outcome{id,component,level,outcome}
- readiness_observed_value{id,component,unit}: the decisive observation, where it is a number
- readiness_verdict{profile,verdict}: the run's verdict (pass, fail, incomplete)
- readiness_requirements{profile,outcome}: how many requirements ended in each outcome
- readiness_run_timestamp_seconds{profile}, readiness_run_duration_seconds{profile}
- readiness_drift_new_failures{profile}: new failures since the baseline (only with --baseline)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from readiness.core.model import Outcome

TEXTFILE = "conformance.prom"
JOB = "prefect-readiness"
VERDICTS = ("pass", "fail", "incomplete")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def registry(report: dict[str, Any]) -> CollectorRegistry:
    """A registry holding the run's metrics (a fresh one per report: nothing global)."""
    run, summary = report["run"], report["summary"]
    profile = run["profile"]
    reg = CollectorRegistry(auto_describe=True)
    outcome = Gauge(
        "readiness_requirement_outcome",
        "1 for the outcome a requirement ended in, 0 for the others",
        ["id", "component", "level", "outcome"],
        registry=reg,
    )
    observed = Gauge(
        "readiness_observed_value",
        "the observed value that decided a requirement, where it is a number",
        ["id", "component", "unit"],
        registry=reg,
    )
    for result in report["results"]:
        for name in Outcome:
            outcome.labels(result["id"], result["component"], result["level"], name.value).set(
                1 if result["outcome"] == name.value else 0
            )
        number = _number(result.get("observed"))
        if number is not None:
            observed.labels(result["id"], result["component"], result.get("unit") or "").set(number)
    verdict = Gauge(
        "readiness_verdict", "1 for the run's verdict, 0 for the others", ["profile", "verdict"], registry=reg
    )
    for name in sorted({*VERDICTS, summary["verdict"]}):
        verdict.labels(profile, name).set(1 if summary["verdict"] == name else 0)
    counts = Gauge("readiness_requirements", "requirements per outcome", ["profile", "outcome"], registry=reg)
    for name in Outcome:
        counts.labels(profile, name.value).set(summary.get(name.value, 0))
    finished = dt.datetime.fromisoformat(run["finished_at"])
    Gauge("readiness_run_timestamp_seconds", "when the run finished (Unix time)", ["profile"], registry=reg).labels(
        profile
    ).set(finished.timestamp())
    Gauge("readiness_run_duration_seconds", "how long the run took", ["profile"], registry=reg).labels(profile).set(
        run["duration_s"]
    )
    drift = report.get("drift")
    if drift:
        Gauge(
            "readiness_drift_new_failures", "requirements newly failing since the baseline", ["profile"], registry=reg
        ).labels(profile).set(len(drift["new_failures"]))
    return reg


def write_textfile(report: dict[str, Any], run_dir: Path) -> Path:
    """Write conformance.prom into the run's report folder (atomically: a scraper never reads half a file)."""
    path = run_dir / TEXTFILE
    write_to_textfile(str(path), registry(report))
    return path


def push(report: dict[str, Any], gateway: str, timeout: float = 10.0) -> None:
    """Replace this profile's group on a Pushgateway with the run's metrics."""
    push_to_gateway(gateway, job=JOB, registry=registry(report), grouping_key={"profile": report["run"]["profile"]},
                    timeout=timeout)  # fmt: skip
