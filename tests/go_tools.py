"""Where the tests find the Go programs tools/go-tools.sh installs (kustomize, Pushgateway, fake-gcs-server,
promtool) and kubectl, which tools/k8s/build.sh builds with the sandbox's control plane."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readiness.core.cache import CACHE_ROOT

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "go-tools.sh"


def versions() -> dict[str, str]:
    """name -> version, as tools/go-tools.sh pins them (the one list of versions)."""
    return {m[0]: m[1] for m in re.findall(r'^\s*"([\w-]+) \S+ (v[\w.-]+) \S+"$', SCRIPT.read_text(), re.M)}


def go_tool(name: str) -> Path:
    """The installed binary; a missing one fails the test (it is part of the set-up, never a reason to skip)."""
    version = versions()[name]
    path = CACHE_ROOT / "go-tools" / f"{name}-{version}" / name
    if not path.is_file():
        pytest.fail(f"{name} {version} is not installed at {path}: run `bash tools/go-tools.sh` (tox runs it)")
    return path


def kubectl() -> Path:
    from readiness.sandbox.kubernetes.binaries import cache_dir

    path = cache_dir() / "bin" / "kubectl"
    if not path.is_file():
        pytest.fail(f"kubectl is not built at {path}: run `bash tools/k8s/build.sh` (tox runs it)")
    return path
