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
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readiness.core.model import Outcome

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

TEXTFILE = "conformance.prom"
JOB = "prefect-readiness"
VERDICTS = ("pass", "fail", "incomplete")


@dataclass
class Family:
    """One gauge: its name, help, label names and samples (label values -> value), in the order they are set."""

    name: str
    help: str
    labels: tuple[str, ...]
    samples: dict[tuple[str, ...], float] = field(default_factory=dict)

    def set(self, values: tuple[str, ...], value: float) -> None:
        self.samples[tuple(map(str, values))] = float(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def families(report: dict[str, Any]) -> list[Family]:
    """The run's metrics, as data: the text file and the Pushgateway registry are both made from them."""
    run, summary = report["run"], report["summary"]
    profile = run["profile"]
    outcome = Family(
        "readiness_requirement_outcome",
        "1 for the outcome a requirement ended in, 0 for the others",
        ("id", "component", "level", "outcome"),
    )
    observed = Family(
        "readiness_observed_value",
        "the observed value that decided a requirement, where it is a number",
        ("id", "component", "unit"),
    )
    for result in report["results"]:
        for name in Outcome:
            outcome.set(
                (result["id"], result["component"], result["level"], name.value),
                1 if result["outcome"] == name.value else 0,
            )
        # The typed value, never the sentence (reports written before `observed_value` had it in `observed`).
        number = _number(result["observed_value"] if "observed_value" in result else result.get("observed"))
        if number is not None:
            observed.set((result["id"], result["component"], result.get("unit") or ""), number)
    verdict = Family("readiness_verdict", "1 for the run's verdict, 0 for the others", ("profile", "verdict"))
    for name in sorted({*VERDICTS, summary["verdict"]}):
        verdict.set((profile, name), 1 if summary["verdict"] == name else 0)
    counts = Family("readiness_requirements", "requirements per outcome", ("profile", "outcome"))
    for name in Outcome:
        counts.set((profile, name.value), summary.get(name.value, 0))
    finished = dt.datetime.fromisoformat(run["finished_at"])
    timestamp = Family("readiness_run_timestamp_seconds", "when the run finished (Unix time)", ("profile",))
    timestamp.set((profile,), finished.timestamp())
    duration = Family("readiness_run_duration_seconds", "how long the run took", ("profile",))
    duration.set((profile,), run["duration_s"])
    out = [outcome, observed, verdict, counts, timestamp, duration]
    drift = report.get("drift")
    if drift:
        new_failures = Family(
            "readiness_drift_new_failures", "requirements newly failing since the baseline", ("profile",)
        )
        new_failures.set((profile,), len(drift["new_failures"]))
        out.append(new_failures)
    return out


def _go_float(value: float) -> str:
    """A sample value as Prometheus' text format (and prometheus_client) writes it."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(value)
    dot = text.find(".")
    if value > 0 and dot > 6:  # Go switches to an exponent sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def exposition(report: dict[str, Any]) -> str:
    """The metrics in Prometheus' text exposition format, written here rather than through prometheus_client:
    importing that library (its HTTP server, its default collectors) cost more than the whole file on every
    run. tests/ops/test_prometheus.py holds it equal to prometheus_client's own output."""
    lines: list[str] = []
    for family in families(report):
        lines.append(f"# HELP {family.name} {_help(family.help)}\n")
        lines.append(f"# TYPE {family.name} gauge\n")
        for values, value in family.samples.items():
            pairs = sorted(zip(family.labels, values, strict=True))
            labels = ",".join(f'{name}="{_label_value(text)}"' for name, text in pairs)
            lines.append(f"{family.name}{{{labels}}} {_go_float(value)}\n")
    return "".join(lines)


def registry(report: dict[str, Any]) -> CollectorRegistry:
    """A prometheus_client registry holding the run's metrics (a fresh one per report: nothing global)."""
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry(auto_describe=True)
    for family in families(report):
        gauge = Gauge(family.name, family.help, list(family.labels), registry=reg)
        for values, value in family.samples.items():
            gauge.labels(*values).set(value)
    return reg


def write_textfile(report: dict[str, Any], run_dir: Path) -> Path:
    """Write conformance.prom into the run's report folder (atomically: a scraper never reads half a file)."""
    path = run_dir / TEXTFILE
    partial = run_dir / f"{TEXTFILE}.{os.getpid()}.{threading.get_ident()}"
    try:
        partial.write_bytes(exposition(report).encode())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def push(report: dict[str, Any], gateway: str, timeout: float = 10.0) -> None:
    """Replace this profile's group on a Pushgateway with the run's metrics."""
    from prometheus_client import push_to_gateway

    push_to_gateway(gateway, job=JOB, registry=registry(report), grouping_key={"profile": report["run"]["profile"]},
                    timeout=timeout)  # fmt: skip
