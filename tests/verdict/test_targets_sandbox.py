"""Targets on the whole sandbox: its targets file, and discovery from its cluster's Prefect Deployment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from readiness.targets import resolve_targets
from tests.suite_run import ROOT

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_discovery_reads_hosts_and_ports_from_the_prefect_deployment_but_no_secret(sandbox):
    # Only the kubeconfig: everything else must come from the cluster.
    environ = {"KUBECONFIG": str(sandbox.ctx.root / "kubeconfig")}
    targets = resolve_targets(environ=environ)
    assert targets.get("postgres.host") == "postgres.prefect.sandbox.test"
    assert targets.get("postgres.port") == sandbox.ctx.port("postgres")
    assert targets.get("postgres.dbname") == "prefect"
    assert targets.source("postgres.port").startswith("discovered: Deployment prefect/prefect-server env ")
    assert targets.get("redis.urls") == {
        "messaging": f"rediss://redis.prefect.sandbox.test:{sandbox.ctx.port('redis-tls')}/0"
    }
    assert targets.get("edge.api_host") == "api.prefect.sandbox.test"
    assert targets.get("edge.lb_address") == "203.0.113.10"
    assert targets.get("prefect.ui_url", "").startswith("https://app.prefect.sandbox.test:")
    assert targets.get("postgres.password") is None
    assert any("Secret prefect-server-database" in note for note in targets.notes)


def test_readiness_targets_shows_every_component_with_its_source(sandbox):
    env = {"READINESS_TARGETS": str(sandbox.ctx.root / "targets.yaml"), "HOME": "/nonexistent"}
    proc = subprocess.run(
        [sys.executable, "-m", "readiness", "targets", "--format", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)["values"]
    sections = {key.split(".")[0] for key in values}
    assert {"kubernetes", "prefect", "edge", "redis", "postgres", "smtp", "imap", "oidc", "ca_bundle"} <= sections
    assert values["postgres.password"]["value"] == "***"
    assert values["prefect.auth_string"]["value"] == "***"
    assert values["postgres.host"]["source"].startswith("targets file ")
    password = (sandbox.ctx.root / "secrets" / "postgres-prefect").read_text().strip()
    assert password not in proc.stdout
