"""Fixtures of the project's own tests."""

from __future__ import annotations

import signal
import threading

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
