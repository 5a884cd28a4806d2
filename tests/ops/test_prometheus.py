"""conformance.prom: written beside every report, valid exposition format, one series per requirement and
outcome, the observed numbers, the verdict and the run's time; the same metrics reach a Pushgateway."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from readiness.core.model import CheckResult, Observation, Outcome
from readiness.core.profile import load_profile
from readiness.core.redact import Redactor
from readiness.core.waivers import WaiverDecision
from readiness.report.drift import compute_drift
from readiness.report.model import build_report, write_reports
from readiness.report.prometheus import TEXTFILE, exposition, push, registry


def _report(outcome: Outcome, major: int) -> dict:
    profile = load_profile("aws")
    checks = [
        CheckResult(
            "PG-VERSION-MIN",
            "suites/pg::t1",
            outcome,
            observations=[Observation("server major", major, 14, "major", major >= 14, {})],
        ),
        CheckResult(
            "PREFECT-API-HEALTH",
            "suites/p::t2",
            Outcome.passed,
            observations=[Observation("GET /api/health", "true", "true", None, True, {})],
        ),
    ]
    started = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    return build_report(
        run_id=f"run-{major}",
        profile=profile,
        checks=checks,
        waivers=WaiverDecision(),
        started_at=started,
        finished_at=started + dt.timedelta(seconds=42),
        options={},
        redactor=Redactor(),
    )


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_text_file_lands_beside_the_report_and_parses(tmp_path):
    report = _report(Outcome.fail, 13)
    run_dir = write_reports(report, tmp_path, Redactor())
    samples = _samples((run_dir / TEXTFILE).read_text())

    def outcome(rid: str, component: str, level: str, name: str) -> float:
        labels = {"id": rid, "component": component, "level": level, "outcome": name}
        return samples[("readiness_requirement_outcome", frozenset(labels.items()))]

    assert outcome("PG-VERSION-MIN", "postgres", "required", "fail") == 1
    assert outcome("PG-VERSION-MIN", "postgres", "required", "pass") == 0
    assert outcome("PREFECT-API-HEALTH", "prefect", "required", "pass") == 1
    # every requirement of the profile has one series per outcome, exactly one of them at 1
    per_requirement: dict[str, float] = {}
    for (name, labels), value in samples.items():
        if name == "readiness_requirement_outcome":
            rid = dict(labels)["id"]
            per_requirement[rid] = per_requirement.get(rid, 0) + value
    assert len(per_requirement) == len(report["results"])
    assert set(per_requirement.values()) == {1}
    observed = {"id": "PG-VERSION-MIN", "component": "postgres", "unit": "major"}
    assert samples[("readiness_observed_value", frozenset(observed.items()))] == 13
    assert not any(n == "readiness_observed_value" and dict(k)["id"] == "PREFECT-API-HEALTH" for n, k in samples)
    assert samples[("readiness_verdict", frozenset({"profile": "aws", "verdict": "fail"}.items()))] == 1
    assert samples[("readiness_verdict", frozenset({"profile": "aws", "verdict": "pass"}.items()))] == 0
    finished = dt.datetime(2026, 11, 26, 12, 0, 42, tzinfo=dt.UTC).timestamp()
    assert samples[("readiness_run_timestamp_seconds", frozenset({"profile": "aws"}.items()))] == finished


def test_drift_adds_the_count_of_new_failures():
    old, new = _report(Outcome.passed, 14), _report(Outcome.fail, 13)
    new["drift"] = compute_drift(old, new)
    samples = _samples(generate_latest(registry(new)).decode())
    assert samples[("readiness_drift_new_failures", frozenset({"profile": "aws"}.items()))] == 1


def test_the_text_file_is_what_prometheus_client_would_write(tmp_path):
    """conformance.prom is written without prometheus_client (its import cost more than the file): byte for
    byte what the library makes of the same metrics, also for awkward labels, help text and numbers."""
    report = _report(Outcome.fail, 13)
    report["drift"] = compute_drift(_report(Outcome.passed, 14), report)
    result = report["results"][0]
    result["component"] = 'a "quoted" back\\slash\nnewline'
    result["unit"] = "µs"
    for observed in (1234567.0, 12345678.5, 0.0001, -3, float("inf"), float("-inf"), float("nan"), 1e22, 7):
        result["observed_value"] = observed
        assert exposition(report) == generate_latest(registry(report)).decode()
    run_dir = write_reports(report, tmp_path, Redactor())
    assert (run_dir / TEXTFILE).read_text() == generate_latest(registry(report)).decode()
    assert [p.name for p in run_dir.glob(f"{TEXTFILE}*")] == [TEXTFILE]  # no partial file left


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received = []
    try:
        yield f"http://127.0.0.1:{server.server_port}", _Gateway.received
    finally:
        server.shutdown()
        server.server_close()


def test_push_replaces_the_profile_group_on_the_gateway(gateway):
    url, received = gateway
    push(_report(Outcome.fail, 13), url)
    [(method, path, body)] = received
    assert (method, path) == ("PUT", "/metrics/job/prefect-readiness/profile/aws")
    assert b"readiness_requirement_outcome" in body and b"readiness_verdict" in body
