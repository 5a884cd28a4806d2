"""Fixtures of the Prefect suite: the API probe built from PREFECT_API_URL and its credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from readiness.probes.prefect import PrefectAPI
from readiness.profile import Profile
from readiness.targets import ca_bundle, prefect_target


@pytest.fixture
def prefect_api(profile: Profile, requirement) -> Iterator[PrefectAPI]:
    api = PrefectAPI(prefect_target(), timeout=min(10.0, profile.timeout_for(requirement.id)),
                     verify=ca_bundle() or True)
    try:
        yield api
    finally:
        api.close()
