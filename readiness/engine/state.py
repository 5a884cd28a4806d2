"""The run's state: what one pytest process (the controller, or one xdist worker) knows about the run,
kept on the config's stash, and the per-check values kept on each item's stash."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Protocol

import pytest

from readiness.core.expect import Expect
from readiness.core.model import CheckResult
from readiness.core.profile import Profile
from readiness.core.redact import Redactor
from readiness.core.scope import Scope, paths_of
from readiness.core.waivers import Waiver
from readiness.targets.model import Targets

state_key = pytest.StashKey["RunState"]()
#: the check's expectation helper (the `expect` fixture), read back when its result is made
expect_key = pytest.StashKey[Expect]()
#: perf_counter() when the check's setup began
started_key = pytest.StashKey[float]()


class Running:
    """What this process is running now: pytest runs one test at a time in a process (xdist: per worker)."""

    #: the expectation helper of the running check; None while a test that is not a check runs
    expect: Expect | None = None


running = Running()


class Interruptible(Protocol):
    """The running check's backstop (timeouts.Alarm), as the SIGTERM handler sees it."""

    def interrupt(self, error: Exception, frame: Any) -> None: ...


class RunState:
    def __init__(self, config: pytest.Config, profile: Profile, waivers: list[Waiver], redactor: Redactor) -> None:
        self.config = config
        self.profile = profile
        self.waivers = waivers
        self.redactor = redactor
        self.started_at = dt.datetime.now(dt.UTC)
        self.checks: list[CheckResult] = []
        #: payload -> result, for the results this process made (saves parsing them again)
        self.parsed: dict[str, CheckResult] = {}
        self.budget: float | None = config.getoption("readiness_budget")
        #: the options read once per check, read once per run
        self.read_only = bool(config.getoption("readiness_read_only"))
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            self.deadline = workerinput.get("readiness_deadline")
            self.run_id = workerinput["readiness_run_id"]
        else:
            from readiness.report.model import new_run_id

            self.run_id = config.getoption("readiness_run_id") or new_run_id(self.started_at)
            self.deadline = time.time() + self.budget if self.budget else None
        self.report_dir: Path | None = None
        self.report: dict[str, Any] | None = None
        #: the signal that stopped the run (SIGTERM), once it came
        self.interrupted_by: str | None = None
        #: the running check's backstop, while a check is in its call phase
        self.alarm: Interruptible | None = None
        self.session: pytest.Session | None = None
        self.scope = Scope(
            narrowed=bool(config.getoption("keyword", "") or config.getoption("markexpr", "")),
            paths=paths_of(config.args, config.invocation_params.dir),
            suites_root=config.rootpath / "suites",
            read_only=self.read_only,
        )
        self.targets: Targets | None = None
        #: the load suite's statistics for the report's `load` section (see record_load)
        self.load: dict[str, Any] | None = None

    @property
    def is_controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()


def state_of(config: pytest.Config) -> RunState | None:
    """The run's state; None when the plugin is inert (no --profile)."""
    return config.stash.get(state_key, None)


def strict(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "strict", False))
