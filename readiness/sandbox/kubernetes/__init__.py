"""Kubernetes half of the sandbox: real control plane binaries, kwok nodes, YAML manifests."""

from readiness.sandbox.kubernetes.component import KubernetesComponent

__all__ = ["KubernetesComponent"]
