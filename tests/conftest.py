"""Fixtures of the project's own tests."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

# pytester's in-process runs drop every module first imported inside them, and PyYAML cannot be imported a
# second time in one process (its C loader keeps the first copy's classes and then rejects every node). The
# plugin imports PyYAML only when a run reads a YAML file, so it is imported here, before any in-process run.
import yaml  # noqa: F401

pytest_plugins = ["pytester"]


@pytest.fixture
def checks_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose runs load the readiness plugin, with reports under ./reports."""
    pytester.makeini("[pytest]\naddopts = -p readiness.plugin -p no:cacheprovider\n")
    return pytester


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM and SIGHUP end the self-tests like Ctrl-C: session fixtures (the sandboxes) are torn down.
    A second one kills at once. (Runs with --profile get the plugin's orderly stop instead.)"""
    if config.getoption("readiness_profile", None) or threading.current_thread() is not threading.main_thread():
        return

    def _interrupt(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For `-n 2 --dist loadgroup` (tox): the verdict tests stay on one worker, in order, sharing the one session
    sandbox, and go first (they are the longest stretch); every other module is one group, so a module's own
    sandbox or server (module-scoped fixtures) is started once, on one worker."""
    tests = Path(__file__).resolve().parent
    for item in items:
        path = Path(item.path).resolve()
        in_verdict = tests / "verdict" in path.parents
        # (a session a test starts of its own, on files outside tests/, is grouped by its files too)
        group = (
            "verdict-sandbox" if in_verdict else (path.relative_to(tests) if tests in path.parents else path).as_posix()
        )
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: 0 if tests / "verdict" in Path(item.path).resolve().parents else 1)
