"""Verdicts of the edge suite (DNS and the TLS the clients see) on the sandbox and its faults."""

from __future__ import annotations

import pytest

from tests.verdict.edge_mesh import EDGE, moved, run

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_conformant_sandbox_passes_every_edge_check(suites):
    verdicts = run(suites)
    for requirement in EDGE:
        assert verdicts.outcome(requirement) == "pass", verdicts.explain(requirement)
    chain = verdicts.results["TLS-CHAIN"]["evidence"]
    leaf = next(iter(chain["served"].values()))["certificates"][0]
    assert {"subject", "issuer", "sans", "not_after", "key", "signature"} <= set(leaf)
    assert verdicts.results["TLS-PROTOCOLS"]["evidence"]["scans"]


@pytest.mark.parametrize(
    ("scenario", "requirement", "outcome", "may_also_move"),
    [
        ("dns-wrong-address", "DNS-RESOLVES", "fail", ()),
        ("caa-wrong-issuer", "DNS-CAA", "warn", ()),
        ("tls-expired", "TLS-EXPIRY", "fail", ("TLS-EXPIRY-HEADROOM", "TLS-CHAIN")),
        ("tls-no-intermediate", "TLS-CHAIN", "fail", ()),
        ("tls-wrong-host", "TLS-HOSTNAME", "fail", ()),
        ("tls-weak", "TLS-PROTOCOLS", "fail", ()),
        ("tls-weak-key", "TLS-KEY-STRENGTH", "fail", ()),
        ("tls-expiring-soon", "TLS-EXPIRY-HEADROOM", "warn", ()),
        ("no-hsts", "TLS-HSTS", "warn", ()),
    ],
)
def test_each_edge_fault_turns_its_requirement_and_nothing_else(suites, scenario, requirement, outcome, may_also_move):
    conformant = run(suites)
    verdicts = run(suites, scenario)
    assert verdicts.outcome(requirement) == outcome, verdicts.explain(requirement)
    others = {r: change for r, change in moved(conformant, verdicts).items() if r != requirement}
    assert set(others) <= set(may_also_move), others
    if outcome == "fail":
        assert verdicts.code == 1


def test_stalled_tls_and_a_silent_dns_server_are_errors_within_the_timeout(tmp_path):
    """No sandbox needed: a TCP server that accepts and never speaks, a UDP port that never answers."""
    import os
    import socket
    import time

    from tests.suite_run import ROOT, run_suites

    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        udp.bind(("127.0.0.1", 0))
        targets = tmp_path / "targets.yaml"
        targets.write_text(
            "edge:\n  api_host: api.example.test\n  address: 127.0.0.1\n"
            f"  port: {tcp.getsockname()[1]}\n  resolver: 127.0.0.1:{udp.getsockname()[1]}\n  lb_address: 127.0.0.1\n"
        )
        profile = tmp_path / "fast.yaml"
        profile.write_text(
            f"name: fast\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nsettings:\n  default_timeout: 3\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG"))}
        env.update(READINESS_TARGETS=str(targets), HOME=str(tmp_path))
        started = time.monotonic()
        verdicts = run_suites(
            [ROOT / "suites" / "edge"], env=env, report_dir=tmp_path / "reports", profile=str(profile)
        )
        elapsed = time.monotonic() - started
    assert verdicts.outcome("DNS-RESOLVES") == "error", verdicts.explain("DNS-RESOLVES")
    assert "did not answer" in verdicts.results["DNS-RESOLVES"]["message"]
    for requirement in ("TLS-CHAIN", "TLS-HOSTNAME", "TLS-EXPIRY", "TLS-KEY-STRENGTH"):
        assert verdicts.outcome(requirement) == "error", verdicts.explain(requirement)
        assert "did not complete within 1 s" in verdicts.results[requirement]["message"]
    assert elapsed < 60
