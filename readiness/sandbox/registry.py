"""Which components make up the sandbox, in start order.

Each entry is "module:Class". A component module is imported only when it is used, so a missing
optional dependency of one component does not stop the others.
"""

from __future__ import annotations

import importlib

from readiness.sandbox.base import Component

COMPONENTS: list[str] = [
    # Kubernetes half (etcd, control plane, kwok nodes, manifests)
    "readiness.sandbox.kubernetes:KubernetesComponent",
    # Service half
    "readiness.sandbox.services.pki:PkiComponent",
    "readiness.sandbox.services.postgres:PostgresComponent",
]


def component_classes() -> list[type[Component]]:
    classes = []
    for spec in COMPONENTS:
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A component whose module has not landed yet is left out; a missing dependency still fails.
            if exc.name is not None and module_name.startswith(exc.name) and exc.name.startswith("readiness"):
                continue
            raise
        classes.append(getattr(module, class_name))
    return classes
