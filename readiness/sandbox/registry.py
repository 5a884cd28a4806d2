"""Which components make up the sandbox, in start order.

Each entry is "module:Class". A component module is imported only when it is used, so a missing
optional dependency of one component does not stop the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection

from readiness.sandbox.base import Component

COMPONENTS: list[str] = [
    # Kubernetes half (etcd, control plane, kwok nodes, manifests)
    "readiness.sandbox.kubernetes:KubernetesComponent",
    # Service half
    "readiness.sandbox.services.pki:PkiComponent",
    "readiness.sandbox.services.postgres:PostgresComponent",
    "readiness.sandbox.services.redis:RedisComponent",
    "readiness.sandbox.services.prefect:PrefectComponent",
    "readiness.sandbox.services.ingress:IngressComponent",
    "readiness.sandbox.services.dns:DnsComponent",
    "readiness.sandbox.services.smtp:SmtpComponent",
    "readiness.sandbox.services.oidc:OidcComponent",
]


def _load(spec: str) -> type[Component] | None:
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # A component whose module has not landed yet is left out; a missing dependency still fails.
        if exc.name is not None and module_name.startswith(exc.name) and exc.name.startswith("readiness"):
            return None
        raise
    return getattr(module, class_name)


def component_classes(only: Collection[str] | None = None) -> list[type[Component]]:
    """The registered classes in start order; with `only`, try to import just those components.

    A module named like its component (``...services.redis`` holds ``redis``) is imported alone when
    `only` names it, so one component can run while another one's module is half-written.
    """
    if only:
        wanted = set(only)
        picked = [spec for spec in COMPONENTS if spec.partition(":")[0].rsplit(".", 1)[-1] in wanted]
        classes = [cls for cls in map(_load, picked) if cls is not None]
        if {cls.name for cls in classes} >= wanted:
            return [cls for cls in classes if cls.name in wanted]
    return [cls for cls in map(_load, COMPONENTS) if cls is not None]
