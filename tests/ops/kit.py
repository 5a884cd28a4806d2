"""The deploy kit as its users render it: the real `kustomize build` (tools/go-tools.sh builds it)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.go_tools import go_tool


@cache
def rendered(kit: Path) -> str:
    """`kustomize build KIT` as text; a kit kustomize refuses fails the test with kustomize's own words."""
    done = subprocess.run([str(go_tool("kustomize")), "build", str(kit)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"kustomize build {kit} failed (exit {done.returncode}):\n{done.stderr}")
    return done.stdout


def build(kit: Path) -> list[dict]:
    """The objects `kustomize build KIT` renders, parsed afresh on each call (callers may change them)."""
    return [obj for obj in yaml.safe_load_all(rendered(kit)) if obj]
