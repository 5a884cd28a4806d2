"""tools/k8s/build.sh run twice at once against one cache: the second waits for the first, says so, and
reuses its result; nothing half-written or temporary is left. A small fake step stands in for the Go
build (READINESS_K8S_BUILD_STEP), so the test takes seconds."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

BUILD = Path(__file__).resolve().parents[2] / "tools" / "k8s" / "build.sh"
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok")

FAKE_STEP = """#!/usr/bin/env bash
# Writes the build's outputs slowly, one by one, into the folder it is given.
set -euo pipefail
echo "$$" >>"{runs}"
mkdir -p "$1/bin"
for b in {binaries}; do
  printf '#!/bin/sh\\necho %s\\n' "$b" >"$1/bin/$b"
  sleep 0.3
done
echo "kind: CustomResourceDefinition" >"$1/istio-crds.yaml"
"""


def test_two_builds_at_once_build_once_and_the_second_reuses_the_first(tmp_path):
    runs = tmp_path / "runs"
    step = tmp_path / "fake-step.sh"
    step.write_text(FAKE_STEP.format(runs=runs, binaries=" ".join(BINARIES)))
    step.chmod(0o755)
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    env.update(READINESS_CACHE=str(cache), READINESS_K8S_BUILD_STEP=str(step), K8S_VERSION="v1.34.4")

    def build() -> subprocess.Popen[str]:
        return subprocess.Popen(["bash", str(BUILD)], env=env, stderr=subprocess.PIPE, text=True)

    first = build()
    time.sleep(0.5)  # the first holds the lock and is half-way through its step
    second = build()
    first_err = first.communicate(timeout=60)[1]
    second_err = second.communicate(timeout=60)[1]
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err

    assert len(runs.read_text().split()) == 1, "the build step ran twice"
    assert "another build of" in second_err and "waiting for it to finish" in second_err
    assert "built by the other run; reusing it" in second_err
    version_dir = cache / "k8s" / "v1.34.4"
    for name in BINARIES:
        binary = version_dir / "bin" / name
        assert os.access(binary, os.X_OK), name
    assert (version_dir / "istio-crds.yaml").read_text().startswith("kind: CustomResourceDefinition")
    assert (version_dir / "build-timing.json").exists()
    leftovers = [p.name for p in version_dir.iterdir() if p.name.startswith(".build.") and p.is_dir()]
    assert leftovers == [] and not list(version_dir.rglob("*.tmp"))

    # a third run finds everything cached and does not take the lock at all
    third = subprocess.run(["bash", str(BUILD)], env=env, capture_output=True, text=True, timeout=30)
    assert third.returncode == 0 and "cached:" in third.stderr
    assert len(runs.read_text().split()) == 1


def test_a_step_that_leaves_something_out_fails_the_build(tmp_path):
    step = tmp_path / "lazy-step.sh"
    step.write_text('#!/usr/bin/env bash\nmkdir -p "$1/bin"; touch "$1/bin/etcd"\n')
    step.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    env.update(READINESS_CACHE=str(tmp_path / "cache"), READINESS_K8S_BUILD_STEP=str(step))
    proc = subprocess.run(["bash", str(BUILD)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "the build left out: kube-apiserver" in proc.stderr
