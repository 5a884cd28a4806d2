"""The pytest plugin (entry point `readiness.plugin`; also `pytest -p readiness.plugin`). It is inert unless
`--profile` is given. Each check (a test marked `requirement("ID")`) yields one :class:`CheckResult`, carried
on the test report so that pytest-xdist workers and a serial run feed the controller the same data; the
controller writes the report at session end.

This module only wires: the hooks and fixtures live in one module per job and are registered as this
module's own attributes, so pytest registers one plugin under one name (`-p no:readiness.plugin` leaves it
all out) and looks up no further entry points (`pytest_plugins = [...]` here would, once per module, and
would warn that each module was imported before pytest could rewrite its asserts):

- ``options``:  command-line options, the marker's registration, loading profile/targets/waivers at configure
- ``state``:    the run's state and the per-check stash keys
- ``markers``:  reading the `requirement` marker once per item; collection and the run's scope
- ``fixtures``: expect, profile, targets, requirement, params, probe_timeout, run_id
- ``timeouts``: the per-check alarm, the --budget, cleanup detection, SIGTERM's orderly stop
- ``outcomes``: a check's call classified into pass/warn/fail/error/skip, its result on the report
- ``finish``:   the report, drift, exit status and terminal summary at session end; xdist hand-over
"""

from __future__ import annotations

from readiness.engine.finish import (
    pytest_configure_node,
    pytest_sessionfinish,
    pytest_terminal_summary,
    record_load,
)
from readiness.engine.fixtures import expect, params, probe_timeout, profile, requirement, run_id, targets
from readiness.engine.markers import (
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_deselected,
    pytest_testnodedown,
)
from readiness.engine.options import PATH_OPTIONS, pytest_addoption, pytest_configure, pytest_report_header
from readiness.engine.outcomes import RESULT_KEY, pytest_report_teststatus, pytest_runtest_makereport
from readiness.engine.state import RunState
from readiness.engine.timeouts import in_cleanup, pytest_runtest_call, pytest_runtest_setup

#: the modules whose hooks and fixtures this one registers (tests/unit/test_plugin.py holds that all are)
JOB_MODULES = ("options", "state", "markers", "fixtures", "timeouts", "outcomes", "finish")

__all__ = [
    # hooks
    "pytest_addoption", "pytest_collection_finish", "pytest_collection_modifyitems", "pytest_configure",
    "pytest_configure_node", "pytest_deselected", "pytest_report_header", "pytest_report_teststatus",
    "pytest_runtest_call", "pytest_runtest_makereport", "pytest_runtest_setup", "pytest_sessionfinish",
    "pytest_terminal_summary", "pytest_testnodedown",
    # fixtures
    "expect", "params", "probe_timeout", "profile", "requirement", "run_id", "targets",
    # names other code imports from here
    "PATH_OPTIONS", "RESULT_KEY", "RunState", "in_cleanup", "record_load",
]  # fmt: skip
