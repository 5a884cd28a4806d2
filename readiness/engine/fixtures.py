"""The fixtures a check asks for: `expect`, `profile`, `targets`, `requirement`, `params`, `probe_timeout`,
`run_id`."""

from __future__ import annotations

from typing import Any

import pytest

from readiness.core.expect import Expect
from readiness.core.profile import Profile, Requirement
from readiness.engine.markers import requirement_marker
from readiness.engine.state import running, state_of
from readiness.targets.model import Targets


@pytest.fixture
def expect() -> Expect:
    """The expectation helper: records observed, expected, unit and evidence for this check."""
    # Made when the check's setup began (timeouts.pytest_runtest_setup). Asking for `request` (or a fixture
    # that does) would have pytest build a fixture definition for it on every check.
    current = running.expect
    return current if current is not None else Expect()


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Profile:
    state = state_of(request.config)
    if state is None:
        pytest.skip("no --profile given")
    return state.profile


@pytest.fixture(scope="session")
def targets(request: pytest.FixtureRequest) -> Targets:
    """Where the install lives: the targets file, the ecosystem's conventions, then discovery."""
    state = state_of(request.config)
    if state is None or state.targets is None:
        pytest.skip("no --profile given")
    return state.targets


@pytest.fixture
def requirement(request: pytest.FixtureRequest, profile: Profile) -> Requirement:
    """The catalog entry of the requirement this check verifies."""
    marker = requirement_marker(request.node)
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
    state = state_of(request.config)
    return state.run_id if state else "no-run"
