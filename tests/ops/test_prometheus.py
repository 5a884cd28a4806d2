"""conformance.prom: written beside every report, valid exposition format (Prometheus's own `promtool check
metrics` says so), one series per requirement and outcome, the observed numbers, the verdict and the run's
time; `readiness run --pushgateway` puts the same metrics on a real Pushgateway, replacing its group on each run,
and an unreachable gateway is a one-line warning that leaves the exit status alone."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
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
from tests.go_tools import go_tool


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


# -- Prometheus's own tools: promtool and a real Pushgateway (tools/go-tools.sh builds both) ---------------
def test_promtool_checks_the_text_file_clean(tmp_path):
    report = _report(Outcome.fail, 13)
    report["drift"] = compute_drift(_report(Outcome.passed, 14), report)
    run_dir = write_reports(report, tmp_path, Redactor())
    done = subprocess.run([str(go_tool("promtool")), "check", "metrics"], input=(run_dir / TEXTFILE).read_text(),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    # exit 0 and no lint finding (promtool prints problems, one per line, and exits 1 on any)
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (0, "", ""), done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pushgateway(tmp_path) -> Iterator[str]:
    port = _free_port()
    argv = [str(go_tool("pushgateway")), f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={tmp_path / 'pushgateway.db'}"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the Pushgateway did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _series(url: str, name: str) -> dict[frozenset, float]:
    """The samples of `name` on the gateway, keyed by their labels (the gateway adds job and instance)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        frozenset(s.labels.items()): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


@pytest.mark.slow
def test_readiness_run_pushes_to_a_real_pushgateway_and_replaces_its_group(pushgateway, tmp_path):
    from tests.ops.test_runner import QUICK, readiness_run

    first = readiness_run(tmp_path, "--profile", "sandbox", *QUICK, "--pushgateway", pushgateway)
    assert f"metrics pushed to {pushgateway}" in first.stderr + first.stdout, first.stderr[-2000:]
    verdicts = _series(pushgateway, "readiness_verdict")
    assert {dict(k)["verdict"]: v for k, v in verdicts.items()} == {"pass": 0, "incomplete": 1, "fail": 0}
    assert all(dict(k)["job"] == "prefect-readiness" and dict(k)["profile"] == "sandbox" for k in verdicts)
    outcomes = _series(pushgateway, "readiness_requirement_outcome")
    assert outcomes and sum(outcomes.values()) == len({dict(k)["id"] for k in outcomes})  # one outcome each
    stamp = _series(pushgateway, "readiness_run_timestamp_seconds")
    # a second run replaces the group: the same series, not twice as many, and the newer run's time
    second = readiness_run(tmp_path, "--profile", "sandbox", *QUICK, "--pushgateway", pushgateway)
    assert second.returncode == first.returncode
    assert set(_series(pushgateway, "readiness_requirement_outcome")) == set(outcomes)
    [(labels, newer)] = _series(pushgateway, "readiness_run_timestamp_seconds").items()
    assert set(stamp) == {labels} and newer > next(iter(stamp.values()))


@pytest.mark.slow
def test_an_unreachable_pushgateway_is_one_warning_and_the_verdict_stands(tmp_path):
    from tests.ops.test_runner import QUICK, readiness_run

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    without = readiness_run(tmp_path / "a", "--profile", "sandbox", *QUICK)
    dead = f"http://127.0.0.1:{_free_port()}"
    result = readiness_run(tmp_path / "b", "--profile", "sandbox", *QUICK, "--pushgateway", dead)
    assert result.returncode == without.returncode, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if dead in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"readiness run: warning: metrics not pushed to {dead}: ")
    assert "Connection refused" in warnings[0] or "refused" in warnings[0].lower(), warnings
    report = Path(tmp_path / "b" / "reports" / "latest" / "conformance.json").read_text()
    assert '"verdict": "incomplete"' in report
