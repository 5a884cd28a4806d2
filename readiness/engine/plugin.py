"""The pytest plugin: options, requirement markers, outcomes, timeouts, budget, waivers and reports.

It is inert unless `--profile` is given. Each check (a test marked `requirement("ID")`) yields one
:class:`CheckResult`, carried on the test report's user_properties so that pytest-xdist workers and
a serial run feed the controller the same data; the controller writes the report at session end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from readiness.core.expect import (
    BudgetExhausted,
    CheckError,
    CheckTimeout,
    Expect,
    ExpectationNotMet,
    Interrupted,
    now_iso,
)
from readiness.core.model import EXIT_INCOMPLETE, CheckResult, Outcome, Verdict, exit_status
from readiness.core.profile import Effect, Level, Profile, ProfileError, Requirement, load_profile
from readiness.core.redact import Redactor, default_redactor
from readiness.core.scope import Scope, paths_of
from readiness.core.waivers import Waiver, decide, load_waivers
from readiness.targets import TARGETS_ENV, Targets, TargetsError, resolve_targets

RESULT_KEY = "readiness_result"
_state_key = pytest.StashKey["RunState"]()
_expect_key = pytest.StashKey[Expect]()
_started_key = pytest.StashKey[float]()


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
        self.alarm: _Alarm | None = None
        self.session: pytest.Session | None = None
        self.scope = Scope(
            narrowed=bool(config.getoption("keyword", "") or config.getoption("markexpr", "")),
            paths=paths_of(config.args, config.invocation_params.dir),
            suites_root=config.rootpath / "suites",
            read_only=bool(config.getoption("readiness_read_only")),
        )
        self.targets: Targets | None = None
        #: the load suite's statistics for the report's `load` section (see record_load)
        self.load: dict[str, Any] | None = None

    @property
    def is_controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("readiness", "prefect-readiness conformance")
    group.addoption(
        "--profile",
        dest="readiness_profile",
        metavar="NAME|FILE.yaml",
        help="profile to check against: aws, gcp, azure, sandbox, or a YAML file that extends one",
    )
    group.addoption(
        "--report-dir",
        dest="readiness_report_dir",
        default="reports",
        metavar="DIR",
        help="where reports land: DIR/<run-id>/ and DIR/latest (default: reports)",
    )
    group.addoption(
        "--baseline",
        dest="readiness_baseline",
        metavar="OLD.json",
        help="a previous conformance.json: adds a drift section to every report",
    )
    group.addoption(
        "--waivers",
        dest="readiness_waivers",
        metavar="FILE.yaml",
        help="waiver file: requirement id, reason, owner, expires",
    )
    group.addoption(
        "--allow-required-waivers",
        dest="readiness_allow_required",
        action="store_true",
        help="let waivers apply to required requirements",
    )
    # `--strict` is pytest's own option (all strictness checks); the plugin also reads it as "count
    # warnings (unmet recommendations) as failures", so one flag means strict everywhere.
    group.addoption(
        "--read-only",
        dest="readiness_read_only",
        action="store_true",
        help="run only checks that read; checks that write or load are skipped (drift audits)",
    )
    group.addoption(
        "--budget",
        dest="readiness_budget",
        type=float,
        metavar="SECONDS",
        help="time for the whole run; checks past it end as error: budget exhausted",
    )
    group.addoption(
        "--allow-incomplete",
        dest="readiness_allow_incomplete",
        action="store_true",
        help=f"exit 0 when the verdict is INCOMPLETE (default: exit {EXIT_INCOMPLETE}); the report says INCOMPLETE",
    )
    group.addoption(
        "--targets",
        dest="readiness_targets",
        metavar="FILE.yaml",
        help=f"where the install lives (default: ${TARGETS_ENV}, then the ecosystem's conventions and discovery)",
    )
    group.addoption(
        "--kube-context",
        dest="readiness_kube_context",
        metavar="NAME",
        help="kubeconfig context to use (default: the current context)",
    )
    group.addoption(
        "--grace",
        dest="readiness_grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="after SIGTERM, time for the running check's cleanup, the fixtures' teardown and the report "
        "before the run exits at once (default 30; a second SIGTERM exits at once too)",
    )
    group.addoption(
        "--load-workers",
        dest="readiness_load_workers",
        type=int,
        metavar="N",
        help="Locust worker processes for the load suite (default: the profile's LOAD-THROUGHPUT shape)",
    )
    group.addoption(
        "--load-capacity",
        dest="readiness_load_capacity",
        action="store_true",
        help="after the load checks' run, step the users up until p95 breaks (LOAD-THROUGHPUT capacity params) "
        "and put the curve in the report",
    )
    group.addoption("--run-id", dest="readiness_run_id", metavar="ID", help=argparse_suppress())


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(id, effect='read'): the catalog requirement a check verifies")
    profile_arg = config.getoption("readiness_profile")
    if not profile_arg:
        return
    _refuse_a_moved_rootdir(config)
    redactor = default_redactor()
    redactor.learn_from_environment()
    try:
        # Every secret the targets reference (files, environment, the Prefect profile) is redacted.
        targets = resolve_targets(
            config.getoption("readiness_targets"), kube_context=config.getoption("readiness_kube_context")
        )
    except TargetsError as exc:
        raise pytest.UsageError(str(exc)) from None
    for secret in targets.secrets():
        redactor.add(secret)
    try:
        profile = load_profile(profile_arg)
        waivers_path = config.getoption("readiness_waivers")
        waivers = load_waivers(Path(waivers_path), profile) if waivers_path else []
        baseline = config.getoption("readiness_baseline")
        if baseline:
            from readiness.report.drift import DriftError, load_report

            try:
                load_report(Path(baseline))
            except DriftError as exc:
                raise ProfileError(f"--baseline {exc}") from None
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    budget = config.getoption("readiness_budget")
    if budget is not None and budget <= 0:
        raise pytest.UsageError(f"--budget: expected a number of seconds above 0, got {budget}")
    if config.getoption("readiness_grace") < 0:
        raise pytest.UsageError("--grace: expected a number of seconds, 0 or more")
    state = RunState(config, profile, waivers, redactor)
    state.targets = targets
    config.stash[_state_key] = state
    config.pluginmanager.register(_Collector(state), "readiness-collector")
    config.pluginmanager.register(_OrderlyStop(state), "readiness-orderly-stop")


class _OrderlyStop:
    """SIGTERM (how CD systems cancel a job) stops the run like Ctrl-C would, but in order: the running
    check ends as `error: interrupted (SIGTERM)` (not inside its cleanup: that runs to its end), the
    remaining checks are not started, every fixture is torn down, and the report is written with
    `interrupted: true`. A second SIGTERM, or --grace seconds passing, exits at once."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.previous: Any = None
        self.first_at = 0.0

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.state.session = session
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)

    def pytest_unconfigure(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
            self.previous = None

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        state = self.state
        if state.interrupted_by is not None:
            if time.monotonic() - self.first_at < DUPLICATE_S:
                return  # the same stop delivered twice (to the process group, and forwarded by a parent)
            _exit_at_once(signum, f"second {name}", state.config)
        state.interrupted_by = name
        self.first_at = time.monotonic()
        grace = float(state.config.getoption("readiness_grace"))
        _say(
            state.config,
            f"readiness: {name}: stopping in order (the running check ends, the rest are not started, "
            f"cleanups run, the report is written; {grace:g} s grace, or {name} again to exit at once)",
        )
        timer = threading.Timer(grace, _exit_at_once, (signum, f"{grace:g} s grace after {name} passed", state.config))
        timer.daemon = True
        timer.start()
        if state.session is not None:
            state.session.shouldstop = f"interrupted ({name})"
        dsession = state.config.pluginmanager.getplugin("dsession") if state.is_controller else None
        if dsession is not None:
            # xdist's controller runs no check: it passes the signal to its workers, which stop in order and
            # report back, and stops handing out checks.
            dsession.shouldstop = f"interrupted ({name})"
            _signal_children(signum)
            return
        if state.alarm is not None:
            state.alarm.interrupt(Interrupted(f"interrupted ({name})"), frame)


#: a second stop signal this soon after the first is the same stop delivered twice, not a second one
DUPLICATE_S = 1.0


def _signal_children(signum: int) -> None:
    """Pass `signum` to this process's children (xdist's workers)."""
    for children in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for pid in children.read_text().split():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signum)


def _say(config: pytest.Config, line: str) -> None:
    """One line on the real stderr, also while pytest captures the running check's output."""
    capman = config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
        sys.stderr.write(f"\n{line}\n")
        sys.stderr.flush()


def _exit_at_once(signum: int, why: str, config: pytest.Config) -> None:
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.suspend_global_capture(in_=False)
    sys.stderr.write(f"\nreadiness: {why}: exiting at once\n")
    sys.stderr.flush()
    os._exit(128 + signum)


#: Every option whose value is a path: flag -> dest. pytest takes `--flag /elsewhere/x` (two arguments) for
#: a test path before the plugin's options are known, so each of these is checked by one function.
#: `--targets` is added by the targets model; until it is there its dest is simply absent.
PATH_OPTIONS: dict[str, str] = {
    "--profile": "readiness_profile",
    "--report-dir": "readiness_report_dir",
    "--baseline": "readiness_baseline",
    "--waivers": "readiness_waivers",
    "--targets": "readiness_targets",
}


def _refuse_a_moved_rootdir(config: pytest.Config) -> None:
    """pytest chooses its rootdir before plugins parse their options, so in `--profile /elsewhere/x.yaml`
    it takes the path for a test path: the rootdir moves, the project's pytest settings are not read and
    the wrong tests would run. `--profile=/elsewhere/x.yaml` (one argument) is not mistaken."""
    if config.inipath is not None:
        return
    args = list(config.invocation_params.args)
    here = config.invocation_params.dir.resolve()
    for flag, dest in PATH_OPTIONS.items():
        value = getattr(config.option, dest, None)
        if not value or flag not in args or not Path(value).exists():
            continue
        index = args.index(flag)
        outside = here not in (here / value).resolve().parents
        if index + 1 < len(args) and args[index + 1] == value and outside:
            raise pytest.UsageError(
                f"{flag} {value}: pytest took this path for a test path and chose rootdir {config.rootpath}, "
                f"so the project's pytest settings were not read; write {flag}={value} (one argument) "
                "or name the settings file with -c pyproject.toml"
            )


def record_load(config: pytest.Config, load: dict[str, Any]) -> None:
    """Hand the load suite's statistics to the report (its `load` section)."""
    state = _state(config)
    if state is not None:
        state.load = state.redactor.data(load)


def _strict(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "strict", False))


def _state(config: pytest.Config) -> RunState | None:
    return config.stash.get(_state_key, None)


# -- xdist: hand the run ID and deadline to workers ----------------------------------------------
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = _state(node.config)
    if state is not None:
        node.workerinput["readiness_run_id"] = state.run_id
        node.workerinput["readiness_deadline"] = state.deadline


# -- collection ----------------------------------------------------------------------------------
_marker_key = pytest.StashKey["tuple[str, Effect] | None"]()


def _marker(item: pytest.Item) -> tuple[str, Effect] | None:
    """(requirement ID, side-effect class) of a check, None for other tests; computed once per item."""
    if _marker_key not in item.stash:
        item.stash[_marker_key] = _read_marker(item)
    return item.stash[_marker_key]


def _read_marker(item: pytest.Item) -> tuple[str, Effect] | None:
    mark = item.get_closest_marker("requirement")
    if mark is None:
        return None
    if not mark.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.requirement needs the requirement ID")
    effect_text = mark.kwargs.get("effect", "read")
    try:
        effect = Effect(effect_text)
    except ValueError:
        raise pytest.UsageError(
            f"{item.nodeid}: requirement effect {effect_text!r}; expected one of read, write, load"
        ) from None
    return str(mark.args[0]), effect


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = _state(config)
    checks = [item for item in items if item.get_closest_marker("requirement")]
    if state is None:
        if checks:
            raise pytest.UsageError(
                "these are conformance checks: choose a profile with --profile aws|gcp|azure|sandbox|FILE.yaml"
            )
        return
    for item in checks:
        requirement_id, _ = _marker(item)  # type: ignore[misc]
        if requirement_id not in state.profile.requirements:
            raise pytest.UsageError(
                f"{item.nodeid}: requirement {requirement_id!r} is not in profile {state.profile.name!r}"
            )


def pytest_deselected(items: list[pytest.Item]) -> None:
    """-k, -m and --deselect leave checks out on purpose: their requirements are not in this run."""
    for item in items:
        state = _state(item.config)
        marker = _marker(item) if state is not None else None
        if state is not None and marker is not None:
            state.scope.deselected.add(marker[0])


def pytest_collection_finish(session: pytest.Session) -> None:
    state = _state(session.config)
    if state is None:
        return
    state.scope.add_checks((m[0], m[1].value) for m in map(_marker, session.items) if m is not None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller collects nothing itself
        workeroutput["readiness_scope"] = state.scope.to_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    state = _state(node.config)
    scope = getattr(node, "workeroutput", {}).get("readiness_scope")
    if state is not None and scope:
        state.scope.merge(scope)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def expect(request: pytest.FixtureRequest) -> Expect:
    """The expectation helper: records observed, expected, unit and evidence for this check."""
    return request.node.stash.setdefault(_expect_key, Expect())


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Profile:
    state = _state(request.config)
    if state is None:
        pytest.skip("no --profile given")
    return state.profile


@pytest.fixture(scope="session")
def targets(request: pytest.FixtureRequest) -> Targets:
    """Where the install lives: the targets file, the ecosystem's conventions, then discovery."""
    state = _state(request.config)
    if state is None or state.targets is None:
        pytest.skip("no --profile given")
    return state.targets


@pytest.fixture
def requirement(request: pytest.FixtureRequest, profile: Profile) -> Requirement:
    """The catalog entry of the requirement this check verifies."""
    marker = _marker(request.node)
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the `requirement` fixture needs @pytest.mark.requirement")
    return profile.requirements[marker[0]]


@pytest.fixture
def params(requirement: Requirement) -> dict[str, Any]:
    """The expectation parameters of this check's requirement (from the profile)."""
    return requirement.params


@pytest.fixture
def probe_timeout(profile: Profile, requirement: Requirement) -> float:
    """Seconds for one network call of this check: a third of the check's timeout, at most 10 s,
    so a silent host is reported as such before the whole check times out."""
    return min(10.0, profile.timeout_for(requirement.id) / 3)


@pytest.fixture(scope="session")
def run_id(request: pytest.FixtureRequest) -> str:
    state = _state(request.config)
    return state.run_id if state else "no-run"


# -- running a check -----------------------------------------------------------------------------
#: no timeout for a check's setup (a load run is set up once, for as long as it runs), only the SIGTERM stop
_NO_TIMEOUT_S = 10.0**7


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    state = _state(item.config)
    marker = _marker(item)
    if state is None or marker is None:
        return (yield)
    item.stash[_started_key] = time.perf_counter()
    _, effect = marker
    if item.config.getoption("readiness_read_only") and effect is not Effect.read:
        pytest.skip(f"read-only run: this check has side effects ({effect.value})")
    remaining = state.remaining()
    if remaining is not None and remaining <= 0:
        raise BudgetExhausted("budget exhausted: the run's --budget ran out before this check started")
    if state.interrupted_by is not None:
        raise Interrupted(f"interrupted ({state.interrupted_by}) before this check started")
    # A SIGTERM while fixtures set up (a Locust run, a tagged flow run) ends the setup the same way as a
    # check: at once, or when the cleanup it is in is done.
    with _Alarm(_NO_TIMEOUT_S, CheckTimeout("no timeout")) as alarm:
        state.alarm = alarm
        try:
            return (yield)
        finally:
            state.alarm = None


class _Alarm:
    """The run-level backstop of the call phase: SIGALRM after the check's timeout (main thread only, as
    pytest runs tests). Probes keep their own deadlines (`probe_timeout`); this only ends a check that
    overran. It never interrupts cleanup: while the check is inside a `finally:` body or a context
    manager's `__exit__`, the alarm waits and fires when the cleanup is done; a check whose cleanup ran
    past the timeout still ends as timed out."""

    #: seconds between looks while a cleanup runs
    RETRY = 0.05

    def __init__(self, seconds: float, error: Exception) -> None:
        self.seconds, self.error = seconds, error
        self.expired = False
        self.fired = False
        #: an interruption (SIGTERM) waiting for the check to leave its cleanup
        self.pending: Exception | None = None

    def __enter__(self) -> _Alarm:
        if self.seconds <= 0:
            raise self.error

        def _fire(signum: int, frame: Any) -> None:
            if self.pending is None:
                self.expired = True
            if in_cleanup(frame):
                signal.setitimer(signal.ITIMER_REAL, self.RETRY)
                return
            self.fired = True
            raise self.pending or self.error

        self._previous = signal.signal(signal.SIGALRM, _fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def interrupt(self, error: Exception, frame: Any) -> None:
        """End the check with `error` now, or as soon as it leaves the cleanup it is in."""
        if self.fired:
            return
        self.pending = error
        if in_cleanup(frame):
            signal.setitimer(signal.ITIMER_REAL, self.RETRY)
            return
        self.fired = True
        raise error

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)
        if (self.expired or self.pending) and not self.fired and exc_type is None:
            # it ran out (or was interrupted) while cleaning up: the check still ends that way
            raise self.pending or self.error


_FRAMEWORK = tuple(str(Path(m.__file__).parent) for m in (pytest, __import__("pluggy"), __import__("_pytest")))
_CLEANUP_FUNCTIONS = frozenset({"__exit__", "__aexit__"})


def in_cleanup(frame: Any) -> bool:
    """Is the interrupted code (or a caller up to the test function) running cleanup: a `finally:` body or
    a context manager's `__exit__`? Only the check's own frames are looked at, not pytest's."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_FRAMEWORK) or filename == __file__:
            return False
        if frame.f_code.co_name in _CLEANUP_FUNCTIONS:
            return True
        if any(first <= frame.f_lineno <= last for first, last in _finally_lines(filename)):
            return True
        frame = frame.f_back
    return False


@functools.cache
def _finally_lines(filename: str) -> tuple[tuple[int, int], ...]:
    """(first, last) line of every `finally:` body in a source file."""
    import ast
    import linecache

    try:
        tree = ast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError):
        return ()
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar) and node.finalbody:
            spans.append((node.finalbody[0].lineno, node.finalbody[-1].end_lineno or node.finalbody[-1].lineno))
    return tuple(spans)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    state = _state(item.config)
    marker = _marker(item)
    if state is None or marker is None:
        return (yield)
    timeout = state.profile.timeout_for(marker[0])
    error: Exception = CheckTimeout(f"timed out after {timeout:g} s (the requirement's timeout)")
    remaining = state.remaining()
    if remaining is not None and remaining < timeout:
        timeout = remaining
        error = BudgetExhausted("budget exhausted: the run's --budget ran out during this check")
    if state.interrupted_by is not None:  # set up, then the run was stopped: do not start it
        raise Interrupted(f"interrupted ({state.interrupted_by}) before this check started")
    with _Alarm(timeout, error) as alarm:
        state.alarm = alarm
        try:
            return (yield)
        finally:
            state.alarm = None


def _classify(call: pytest.CallInfo[None], level: Level) -> tuple[Outcome, str]:
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
    state = _state(item.config)
    marker = _marker(item) if state is not None else None
    if state is None or marker is None:
        return report
    requirement_id, effect = marker
    level = state.profile.requirements[requirement_id].level
    redact = state.redactor.text
    finished_phase = call.when == "call" or (call.when == "setup" and call.excinfo is not None)
    if finished_phase:
        outcome, message = _classify(call, level)
        expect = item.stash.get(_expect_key, None)
        started = item.stash.get(_started_key, time.perf_counter())
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


def _result_of(report: pytest.TestReport, state: RunState) -> CheckResult | None:
    for key, value in report.user_properties:
        if key == RESULT_KEY:
            cached = state.parsed.get(value)
            return cached if cached is not None else CheckResult.from_dict(json.loads(value))
    return None


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    state = _state(config)
    if state is None or not isinstance(report, pytest.TestReport):
        return None
    result = _result_of(report, state)
    if result is None:
        return None
    if result.outcome is Outcome.warn:
        return "warn", "W", ("WARN", {"yellow": True})  # type: ignore[return-value]
    if result.outcome is Outcome.error and report.when == "call":
        return "error", "E", ("ERROR", {"red": True})  # type: ignore[return-value]
    return None


class _Collector:
    """Receives every test report on the controller (serial and xdist alike) and keeps the results."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = _result_of(report, self.state)
        if result is not None and self.state.is_controller:
            self.state.checks.append(result)


# -- the end of the run --------------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _state(session.config)
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
        "strict": bool(_strict(config)),
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
    state = _state(config)
    if state is None or state.report is None:
        return
    from readiness.report.terminal import print_summary

    print_summary(state.report, state.report_dir, terminalreporter, state.redactor)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = _state(config)
    if state is None:
        return None
    files = " -> ".join(p.name for p in state.profile.files)
    return [
        f"readiness: profile {state.profile.name} ({files}), run {state.run_id}, "
        f"{len(state.profile.requirements)} requirements"
    ]
