"""The end of the run: the controller builds the report from every check's result (waivers, scope, drift
against a baseline), writes it, sets the exit status from the verdict and prints the summary. Also the
xdist hand-over of the run's ID and deadline to the workers, and the load suite's statistics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from readiness.core.model import Verdict, exit_status
from readiness.core.waivers import decide
from readiness.engine.state import state_of, strict


def record_load(config: pytest.Config, load: dict[str, Any]) -> None:
    """Hand the load suite's statistics to the report (its `load` section)."""
    state = state_of(config)
    if state is not None:
        state.load = state.redactor.data(load)
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller writes the report (see testnodedown)
            workeroutput["readiness_load"] = json.loads(json.dumps(state.load, default=str))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: hand the run ID and deadline to a worker."""
    state = state_of(node.config)
    if state is not None:
        node.workerinput["readiness_run_id"] = state.run_id
        node.workerinput["readiness_deadline"] = state.deadline


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = state_of(session.config)
    if state is None or not state.is_controller or session.config.option.collectonly:
        return
    if exitstatus not in (
        pytest.ExitCode.OK,
        pytest.ExitCode.TESTS_FAILED,
        pytest.ExitCode.NO_TESTS_COLLECTED,
        pytest.ExitCode.INTERRUPTED,
    ):
        return
    from readiness.report.model import build_report, requirement_outcomes, write_reports

    config = session.config
    finished = dt.datetime.now(dt.UTC)
    outcomes = requirement_outcomes(state.profile, state.checks)
    decision = decide(
        state.waivers,
        outcomes,
        state.profile,
        finished.date(),
        bool(config.getoption("readiness_allow_required")),
    )
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    options = {
        "strict": bool(strict(config)),
        "read_only": bool(config.getoption("readiness_read_only")),
        "budget_s": config.getoption("readiness_budget"),
        "waivers_file": config.getoption("readiness_waivers"),
        "baseline": config.getoption("readiness_baseline"),
        "allow_incomplete": bool(config.getoption("readiness_allow_incomplete")),
        "interrupted": interrupted,
        "interrupted_by": state.interrupted_by or ("SIGINT" if interrupted else None),
    }
    not_in_run = {
        req_id: reason
        for req_id, req in state.profile.requirements.items()
        if (reason := state.scope.not_in_run(req_id, req.component)) is not None
    }
    report = build_report(
        run_id=state.run_id,
        profile=state.profile,
        checks=state.checks,
        waivers=decision,
        started_at=state.started_at,
        finished_at=finished,
        options=options,
        redactor=state.redactor,
        not_in_run=not_in_run,
        load=state.load,
        targets=state.targets.known() if state.targets is not None else None,
    )
    baseline = config.getoption("readiness_baseline")
    if baseline:
        from readiness.report.drift import compute_drift, load_report

        report["drift"] = state.redactor.data(compute_drift(load_report(Path(baseline)), report))
    report_dir = Path(config.getoption("readiness_report_dir"))
    if not report_dir.is_absolute():
        report_dir = Path(config.invocation_params.dir) / report_dir
    state.report_dir = write_reports(report, report_dir, state.redactor)
    state.report = report
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = exit_status(Verdict(report["summary"]["verdict"]), options["allow_incomplete"])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if state is None or state.report is None:
        return
    from readiness.report.terminal import print_summary

    print_summary(state.report, state.report_dir, terminalreporter, state.redactor)
