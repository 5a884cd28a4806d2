"""Fixtures of the project's own tests."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def checks_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose runs load the readiness plugin, with reports under ./reports."""
    pytester.makeini("[pytest]\naddopts = -p readiness.plugin -p no:cacheprovider\n")
    return pytester
