"""Fixtures of the edge suite: the public endpoints, the DNS resolver and the trust the clients use,
all from the targets (edge.*, ca_bundle)."""

from __future__ import annotations

import pytest

from readiness.probes.dns import Resolver
from readiness.probes.tls import Endpoint
from readiness.targets import Targets

TARGET_KEYS = ("edge.api_host", "edge.ui_host", "edge.port", "edge.address")


@pytest.fixture
def public_names(targets: Targets) -> list[str]:
    """The API host, then the UI host when it is another name."""
    names = [str(targets.require("edge.api_host"))]
    ui = targets.get("edge.ui_host")
    if ui and ui not in names:
        names.append(str(ui))
    return names


@pytest.fixture
def endpoints(targets: Targets, public_names: list[str]) -> list[Endpoint]:
    port = int(targets.get("edge.port") or 443)
    address = targets.get("edge.address")
    return [Endpoint(name, port, str(address) if address else None) for name in public_names]


@pytest.fixture
def resolver(targets: Targets, probe_timeout: float) -> Resolver:
    return Resolver(targets.get("edge.resolver"), probe_timeout)


@pytest.fixture
def edge_ca_bundle(targets: Targets) -> str | None:
    return targets.ca_bundle("edge")


@pytest.fixture
def edge_evidence(targets: Targets) -> dict[str, object]:
    return {"targets": targets.evidence(*TARGET_KEYS)}
