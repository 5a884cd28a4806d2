"""Timeouts and interruption: the per-check alarm (the requirement's timeout, or what is left of the run's
--budget), waiting out a check's cleanup before ending it, and SIGTERM's orderly stop (passed on to xdist's
workers)."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readiness.core.expect import BudgetExhausted, CheckTimeout, Expect, Interrupted
from readiness.core.profile import Effect
from readiness.engine.markers import check_of
from readiness.engine.state import RunState, expect_key, running, started_key

#: no timeout for a check's setup (a load run is set up once, for as long as it runs), only the SIGTERM stop
_NO_TIMEOUT_S = 10.0**7


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    check = check_of(item)
    if check is None:
        running.expect = None
        return (yield)
    state, _, effect = check
    item.stash[started_key] = time.perf_counter()
    item.stash[expect_key] = running.expect = Expect()
    if state.read_only and effect is not Effect.read:
        pytest.skip(f"read-only run: this check has side effects ({effect.value})")
    remaining = state.remaining()
    if remaining is not None and remaining <= 0:
        raise BudgetExhausted("budget exhausted: the run's --budget ran out before this check started")
    # A SIGTERM while fixtures set up (a Locust run, a tagged flow run) ends the setup the same way as a
    # check: at once, or when the cleanup it is in is done.
    with Alarm(state, _NO_TIMEOUT_S, CheckTimeout("no timeout")):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    check = check_of(item)
    if check is None:
        return (yield)
    state, requirement_id, _ = check
    timeout = state.profile.timeout_for(requirement_id)
    error: Exception = CheckTimeout(f"timed out after {timeout:g} s (the requirement's timeout)")
    remaining = state.remaining()
    if remaining is not None and remaining < timeout:
        timeout = remaining
        error = BudgetExhausted("budget exhausted: the run's --budget ran out during this check")
    with Alarm(state, timeout, error):
        return (yield)


class Alarm:
    """The run-level backstop of the call phase: SIGALRM after the check's timeout (main thread only, as
    pytest runs tests). Probes keep their own deadlines (`probe_timeout`); this only ends a check that
    overran. It never interrupts cleanup: while the check is inside a `finally:` body or a context
    manager's `__exit__`, the alarm waits and fires when the cleanup is done; a check whose cleanup ran
    past the timeout still ends as timed out. A phase of a run already stopped (SIGTERM) does not start; while
    the phase runs, the alarm is `state.alarm`, where the SIGTERM handler finds it."""

    #: seconds between looks while a cleanup runs
    RETRY = 0.05

    def __init__(self, state: RunState, seconds: float, error: Exception) -> None:
        self.state, self.seconds, self.error = state, seconds, error
        self.expired = False
        self.fired = False
        #: an interruption (SIGTERM) waiting for the check to leave its cleanup
        self.pending: Exception | None = None

    def __enter__(self) -> Alarm:
        if self.state.interrupted_by is not None:
            raise Interrupted(f"interrupted ({self.state.interrupted_by}) before this check started")
        if self.seconds <= 0:
            raise self.error

        def _fire(signum: int, frame: Any) -> None:
            if self.pending is None:
                self.expired = True
            self._end(self.pending or self.error, frame)

        self._previous = signal.signal(signal.SIGALRM, _fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self.state.alarm = self
        return self

    def interrupt(self, error: Exception, frame: Any) -> None:
        """End the check with `error` now, or as soon as it leaves the cleanup it is in."""
        if self.fired:
            return
        self.pending = error
        self._end(error, frame)

    def _end(self, error: Exception, frame: Any) -> None:
        """Raise `error` in the check now; inside its cleanup, look again shortly instead."""
        if in_cleanup(frame):
            signal.setitimer(signal.ITIMER_REAL, self.RETRY)
            return
        self.fired = True
        raise error

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.state.alarm = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)
        if (self.expired or self.pending) and not self.fired and exc_type is None:
            # it ran out (or was interrupted) while cleaning up: the check still ends that way
            raise self.pending or self.error


#: frames from these folders are the machinery around the check (pytest, pluggy, this engine), not the check
_FRAMEWORK = (
    *(str(Path(m.__file__).parent) for m in (pytest, __import__("pluggy"), __import__("_pytest"))),
    str(Path(__file__).parent) + os.sep,
)
_CLEANUP_FUNCTIONS = frozenset({"__exit__", "__aexit__"})


def in_cleanup(frame: Any) -> bool:
    """Is the interrupted code (or a caller up to the test function) running cleanup: a `finally:` body or
    a context manager's `__exit__`? Only the check's own frames are looked at, not pytest's or the engine's."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_FRAMEWORK):
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


# -- SIGTERM -------------------------------------------------------------------------------------
#: a second stop signal this soon after the first is the same stop delivered twice, not a second one
DUPLICATE_S = 1.0


class OrderlyStop:
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
