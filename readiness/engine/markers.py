"""The `requirement` marker: read once per item, checked against the profile at collection, and the
scope it gives the run (which requirements have checks here, which were left out on purpose)."""

from __future__ import annotations

from typing import Any

import pytest

from readiness.core.profile import Effect
from readiness.engine.state import RunState, state_of

_marker_key = pytest.StashKey["tuple[str, Effect] | None"]()


def requirement_marker(item: pytest.Item) -> tuple[str, Effect] | None:
    """(requirement ID, side-effect class) of a check, None for other tests; computed once per item."""
    if _marker_key not in item.stash:
        item.stash[_marker_key] = _read_marker(item)
    return item.stash[_marker_key]


def check_of(item: pytest.Item) -> tuple[RunState, str, Effect] | None:
    """(the run's state, requirement ID, side-effect class) when `item` is a check of a run with a profile."""
    state = state_of(item.config)
    marker = requirement_marker(item) if state is not None else None
    if state is None or marker is None:
        return None
    return state, marker[0], marker[1]


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
    state = state_of(config)
    checks = [item for item in items if item.get_closest_marker("requirement")]
    if state is None:
        if checks:
            raise pytest.UsageError(
                "these are conformance checks: choose a profile with --profile aws|gcp|azure|sandbox|FILE.yaml"
            )
        return
    for item in checks:
        requirement_id, _ = requirement_marker(item)  # type: ignore[misc]
        if requirement_id not in state.profile.requirements:
            raise pytest.UsageError(
                f"{item.nodeid}: requirement {requirement_id!r} is not in profile {state.profile.name!r}"
            )


def pytest_deselected(items: list[pytest.Item]) -> None:
    """-k, -m and --deselect leave checks out on purpose: their requirements are not in this run."""
    for item in items:
        check = check_of(item)
        if check is not None:
            state, requirement_id, _ = check
            state.scope.deselected.add(requirement_id)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = state_of(session.config)
    if state is None:
        return
    state.scope.add_checks((m[0], m[1].value) for m in map(requirement_marker, session.items) if m is not None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller collects nothing itself
        workeroutput["readiness_scope"] = state.scope.to_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """An xdist worker finished: its checks join the run's scope, and the load statistics it recorded (the
    load suite's one Locust run happens on one worker) reach the controller's report."""
    state = state_of(node.config)
    output = getattr(node, "workeroutput", {}) or {}
    scope = output.get("readiness_scope")
    if state is not None and scope:
        state.scope.merge(scope)
    if state is not None and output.get("readiness_load"):
        state.load = output["readiness_load"]
