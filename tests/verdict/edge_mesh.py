"""Shared by the edge and mesh verdict tests: one run over both suites per sandbox state, and the
comparison that says a scenario moved its one requirement and nothing else."""

from __future__ import annotations

from tests.suite_run import Verdicts
from tests.verdict.harness import SuiteRunner

EDGE = ("DNS-RESOLVES", "DNS-CAA", "TLS-CHAIN", "TLS-HOSTNAME", "TLS-EXPIRY", "TLS-EXPIRY-HEADROOM", "TLS-PROTOCOLS",
        "TLS-KEY-STRENGTH", "TLS-HSTS")  # fmt: skip
MESH = ("MESH-CONTROL-PLANE", "MESH-MTLS-STRICT", "MESH-SIDECARS", "MESH-AUTHZ", "MESH-ROUTING")
OURS = EDGE + MESH + ("MESH-MTLS-PROBE",)

_conformant: dict[int, Verdicts] = {}


def run(suites: SuiteRunner, scenario: str | None = None) -> Verdicts:
    """Both suites on the sandbox, under `scenario` when given; the conformant run is made once."""
    if scenario is None:
        key = id(suites.sandbox)
        if key not in _conformant:
            _conformant[key] = suites.run("edge", "mesh")
        return _conformant[key]
    with suites.scenario(scenario):
        return suites.run("edge", "mesh")


def moved(before: Verdicts, after: Verdicts) -> dict[str, tuple[str, str]]:
    """Requirement -> (conformant outcome, outcome now), for ours that changed."""
    return {r: (before.outcome(r), after.outcome(r)) for r in OURS if before.outcome(r) != after.outcome(r)}
