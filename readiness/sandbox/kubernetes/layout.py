"""What a sandbox layout adds beside its manifests, and the switch from one layout to another in place.

The `helm` layout (readiness/sandbox/manifests/kubernetes/layouts/helm/) lays Prefect out as the prefect-helm charts
render it; its Secrets hold the sandbox's real credentials, so they are made here at run time from the state folder's
secrets, never written to a file, a log line or an error message.
"""

from __future__ import annotations

from urllib.parse import quote

from readiness.sandbox.base import SandboxContext
from readiness.sandbox.kubernetes.kube import Obj, Ref
from readiness.sandbox.kubernetes.manifests import DEFAULT_LAYOUT, LAYOUTS, cluster_objects

#: the chart version the helm layout's labels name (helm.sh/chart: prefect-server-<version>)
CHART_VERSION = "2026.11.20"
#: the Secrets the helm layout's values name: the chart's own (secret.create) and the existing ones
DATABASE_SECRET = "prefect-server-postgresql-connection"
DATABASE_KEY = "connection-string"
AUTH_SECRET = "prefect-basic-auth"
REDIS_SECRET = "prefect-redis"
NAMESPACE = "prefect"


def chart_labels(chart: str, release: str, component: str) -> dict[str, str]:
    """The labels a prefect-helm chart puts on its objects (bitnami common.labels.standard + component)."""
    return {
        "app.kubernetes.io/name": chart,
        "helm.sh/chart": f"{chart}-{CHART_VERSION}",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/version": "3.9.0",
        "app.kubernetes.io/component": component,
        "prefect-version": "3.9.0",
    }


def _secret(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> Obj:
    metadata: Obj = {"name": name, "namespace": NAMESPACE}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque", "stringData": data}


def secrets(ctx: SandboxContext, layout: str) -> list[Obj]:
    """The Secrets `layout` needs beside its manifests (none for the default layout, whose placeholders are in
    its manifests): the helm layout's, with the sandbox's real credentials."""
    if layout != "helm":
        return []
    from readiness.sandbox.services import common
    from readiness.sandbox.services.postgres import DATABASE, ROLE, PostgresComponent
    from readiness.sandbox.services.redis import RedisComponent

    pg = PostgresComponent(ctx)
    redis = RedisComponent(ctx)
    pg_password = quote(pg.password(), safe="")
    redis_password = redis.password()
    connection = f"postgresql+asyncpg://{ROLE}:{pg_password}@{common.POSTGRES_HOST}:{pg.port}/{DATABASE}"
    docket = f"rediss://default:{quote(redis_password, safe='')}@{common.REDIS_HOST}:{redis.tls_port}/0"
    server_labels = chart_labels("prefect-server", "prefect-server", "server")
    return [
        # secret.create=true: the chart writes the connection string from secret.{host,port,username,password,database}
        _secret(DATABASE_SECRET, {DATABASE_KEY: connection}, server_labels),
        # existing Secrets the values name (server.basicAuth / worker ...basicAuth.existingSecret; the Redis ones)
        _secret(AUTH_SECRET, {"auth-string": common.prefect_auth_string(ctx)}),
        _secret(REDIS_SECRET, {"redis-password": redis_password, "docket-url": docket}),
    ]


def layout_refs(ctx: SandboxContext, layout: str) -> set[Ref]:
    """Every object `layout` defines (manifests and Secrets), by reference."""
    return {Ref.of(obj) for obj in [*cluster_objects(layout), *secrets(ctx, layout)]}


def stale_refs(ctx: SandboxContext, layout: str) -> list[Ref]:
    """Objects another layout defines and `layout` does not: what a switch to `layout` deletes."""
    wanted = layout_refs(ctx, layout)
    stale: set[Ref] = set()
    for other in LAYOUTS:
        if other != layout:
            stale |= layout_refs(ctx, other) - wanted
    # Workloads first, then what they use; a stable order for the log.
    order = {"Deployment": 0, "Service": 1, "Ingress": 1}
    return sorted(stale, key=lambda r: (order.get(r.kind, 2), r.kind, r.namespace or "", r.name or ""))


def known(layout: str | None) -> str:
    name = layout or DEFAULT_LAYOUT
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}")
    return name
