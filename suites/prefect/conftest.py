"""Fixtures of the Prefect suite: the API probe built from PREFECT_API_URL and its credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from readiness.probes.http import tls_verify
from readiness.probes.prefect import PrefectAPI
from readiness.targets import ca_bundle, prefect_target


@pytest.fixture
def prefect_api(probe_timeout: float) -> Iterator[PrefectAPI]:
    api = PrefectAPI(prefect_target(), timeout=probe_timeout, verify=tls_verify(ca_bundle()))
    try:
        yield api
    finally:
        api.close()
