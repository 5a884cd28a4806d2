"""tools/gateway-api.sh: the CRDs of the module land in the cache once (only the CustomResourceDefinitions, nothing
temporary left), two runs at once fetch once, and a failed fetch prints go's own words. A fake `go` on PATH
stands in for the module proxy, so the test takes a second."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "gateway-api.sh"

FAKE_GO = """#!/usr/bin/env bash
# `go mod download -json MODULE@VERSION`: the module folder of the fake proxy, or go's error for another version.
echo "$*" >>"{calls}"
sleep 0.5
if [[ "$4" == "sigs.k8s.io/gateway-api@v1.6.3" ]]; then
  printf '{{"Path": "sigs.k8s.io/gateway-api", "Version": "v1.6.3", "Dir": "{module}"}}\\n'
else
  error="$4: 403 Forbidden: This module version is not available."
  printf '{{"Path": "sigs.k8s.io/gateway-api", "Error": "%s"}}\\n' "$error"
  exit 1
fi
"""


def _fake(tmp_path: Path) -> dict[str, str]:
    module = tmp_path / "module"
    standard = module / "config" / "crd" / "standard"
    standard.mkdir(parents=True)
    for name in ("gateways", "httproutes"):
        (standard / f"gateway.networking.k8s.io_{name}.yaml").write_text(
            f"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {name}\n"
        )
    (standard / "gateway.networking.k8s.io_vap_safeupgrades.yaml").write_text(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(FAKE_GO.format(calls=tmp_path / "calls", module=module))
    go.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_API_VERSION"}
    return {**env, "PATH": f"{bin_dir}:{os.environ['PATH']}", "READINESS_CACHE": str(tmp_path / "cache")}


def test_two_fetches_at_once_fetch_once_and_keep_only_the_crds(tmp_path):
    env = _fake(tmp_path)
    runs = [subprocess.Popen(["bash", str(SCRIPT)], env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [run.communicate(timeout=30)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert len((tmp_path / "calls").read_text().splitlines()) == 1, "go ran twice"
    target = tmp_path / "cache" / "gateway-api-v1.6.3"
    assert sorted(p.name for p in target.glob("*.yaml")) == [
        "gateway.networking.k8s.io_gateways.yaml",
        "gateway.networking.k8s.io_httproutes.yaml",
    ]
    assert (target / ".complete").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".gateway-api.") and p.is_dir()]
    again = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "cached:" in again.stderr
    assert len((tmp_path / "calls").read_text().splitlines()) == 1


def test_a_failed_fetch_prints_what_go_said(tmp_path):
    env = {**_fake(tmp_path), "GATEWAY_API_VERSION": "v9.9.9"}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "go mod download sigs.k8s.io/gateway-api@v9.9.9 failed; go said:" in done.stderr
    assert "This module version is not available." in done.stderr
    assert not (tmp_path / "cache" / "gateway-api-v9.9.9").exists()
