"""Outcome classification: how a check's call (or failed setup) becomes pass, warn, fail, error or skip,
the one :class:`CheckResult` it yields (carried on the test report, so that xdist workers and a serial
run feed the controller the same data), and how pytest shows it."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import pytest

from readiness.core.expect import CheckError, ExpectationNotMet, now_iso
from readiness.core.model import CheckResult, Outcome
from readiness.core.profile import Level
from readiness.engine.markers import check_of
from readiness.engine.state import RunState, expect_key, started_key, state_of

#: the user property that carries a check's result (JSON, redacted) on its test report
RESULT_KEY = "readiness_result"


def classify(call: pytest.CallInfo[None], level: Level) -> tuple[Outcome, str]:
    if call.excinfo is None:
        return Outcome.passed, ""
    exc = call.excinfo.value
    if call.excinfo.errisinstance(pytest.skip.Exception):
        return Outcome.skip, str(getattr(exc, "msg", exc))
    if isinstance(exc, ExpectationNotMet):
        return (Outcome.fail if level is Level.required else Outcome.warn), str(exc)
    if isinstance(exc, CheckError):
        return Outcome.error, str(exc)
    if isinstance(exc, AssertionError):  # a plain assert in a check: treat as an unmet expectation
        return (Outcome.fail if level is Level.required else Outcome.warn), str(exc) or "assertion failed"
    return Outcome.error, f"internal error in the check: {type(exc).__name__}: {exc}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    check = check_of(item)
    if check is None:
        return report
    state, requirement_id, effect = check
    level = state.profile.requirements[requirement_id].level
    redact = state.redactor.text
    finished_phase = call.when == "call" or (call.when == "setup" and call.excinfo is not None)
    if finished_phase:
        outcome, message = classify(call, level)
        expect = item.stash.get(expect_key, None)
        started = item.stash.get(started_key, time.perf_counter())
        result = CheckResult(
            requirement=requirement_id,
            nodeid=item.nodeid,
            outcome=outcome,
            effect=effect.value,
            message=redact(message),
            observations=expect.observations if expect else [],
            duration_s=round(time.perf_counter() - started, 4),
            started_at=now_iso(),
        )
        raw = json.dumps(result.to_dict(), default=str)
        payload = state.redactor.text(raw)
        report.user_properties.append((RESULT_KEY, payload))
        # Kept by this process to save parsing it again (not on the report: xdist serialises reports);
        # re-read only if redaction changed it.
        state.parsed[payload] = result if payload == raw else CheckResult.from_dict(json.loads(payload))
        # Short, redacted failure text: the cause, not a traceback, for outcomes the check explains.
        if call.excinfo is not None and outcome in (Outcome.fail, Outcome.warn, Outcome.error):
            exc = call.excinfo.value
            if isinstance(exc, ExpectationNotMet | CheckError | AssertionError):
                report.longrepr = f"{requirement_id} [{level.value}] {outcome.value}: {redact(message)}"
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = redact(str(report.longrepr))
    report.sections = [(title, redact(content)) for title, content in report.sections]
    return report


def result_of(report: pytest.TestReport, state: RunState) -> CheckResult | None:
    """The check result a test report carries, None for a report of another test."""
    for key, value in report.user_properties:
        if key == RESULT_KEY:
            cached = state.parsed.get(value)
            return cached if cached is not None else CheckResult.from_dict(json.loads(value))
    return None


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    state = state_of(config)
    if state is None or not isinstance(report, pytest.TestReport):
        return None
    result = result_of(report, state)
    if result is None:
        return None
    if result.outcome is Outcome.warn:
        return "warn", "W", ("WARN", {"yellow": True})  # type: ignore[return-value]
    if result.outcome is Outcome.error and report.when == "call":
        return "error", "E", ("ERROR", {"red": True})  # type: ignore[return-value]
    return None


class Collector:
    """Receives every test report on the controller (serial and xdist alike) and keeps the results."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = result_of(report, self.state)
        if result is not None and self.state.is_controller:
            self.state.checks.append(result)
