"""Fixtures of the Prefect suite: the API probe built from the targets (prefect.api_url and its credentials)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from readiness.probes.http import tls_verify
from readiness.probes.prefect import PrefectAPI
from readiness.targets import Targets, prefect_target


@pytest.fixture
def prefect_api(targets: Targets, probe_timeout: float) -> Iterator[PrefectAPI]:
    targets.require("prefect.api_url")
    api = PrefectAPI(prefect_target(targets=targets), timeout=probe_timeout, verify=tls_verify(targets.ca_bundle()))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def prefect_deployment(targets: Targets) -> str | None:
    """The deployment ("flow/name") an end-to-end run uses (targets key prefect.deployment), or None."""
    return targets.get("prefect.deployment") or None
