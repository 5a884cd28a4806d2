"""Layer 3 of the targets: read-only discovery from the cluster, never reading a Secret.

What it reads:
- the Prefect server Deployment's container environment (found by the chart's labels in
  `kubernetes.namespace`): PostgreSQL host, port, database and user (PREFECT_SERVER_DATABASE_* or the
  password-less parts of a plain connection URL), Redis host and port (PREFECT_REDIS_MESSAGING_*),
  PREFECT_UI_API_URL and PREFECT_UI_URL;
- the Ingresses in that namespace: the API and UI hosts;
- when no Ingress names a host, the Gateway API HTTPRoutes in that namespace: the API and UI hosts, and the
  address in the status of the Gateway they attach to (the load balancer address);
- the ingress controller's LoadBalancer Service: the load balancer address.
A variable given through `valueFrom` (a Secret or ConfigMap reference) is not followed: it is noted with the
Secret's name and key ("takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret NAME key connection-string"),
no value is guessed in its place, and the check that needs it says which targets keys to set.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from readiness.targets.model import Resolved, edge_hosts

if TYPE_CHECKING:
    from readiness.targets.model import Targets

SERVER_SELECTORS = (
    "app.kubernetes.io/name=prefect-server",
    "app.kubernetes.io/component=server",
    "app=prefect-server",
)
DISCOVERY_TIMEOUT = 5.0

_DATABASE_ENV = {
    "PREFECT_SERVER_DATABASE_HOST": "postgres.host",
    "PREFECT_SERVER_DATABASE_PORT": "postgres.port",
    "PREFECT_SERVER_DATABASE_NAME": "postgres.dbname",
    "PREFECT_SERVER_DATABASE_USER": "postgres.user",
    "PREFECT_API_DATABASE_HOST": "postgres.host",
    "PREFECT_API_DATABASE_PORT": "postgres.port",
    "PREFECT_API_DATABASE_NAME": "postgres.dbname",
    "PREFECT_API_DATABASE_USER": "postgres.user",
}
_URL_ENV = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
_SECRET_ENV = {
    "PREFECT_SERVER_DATABASE_PASSWORD": "postgres.password",
    "PREFECT_API_DATABASE_PASSWORD": "postgres.password",
    "PREFECT_REDIS_MESSAGING_PASSWORD": "redis.password",
}


def _server_deployment(apps: Any, namespace: str) -> Any | None:
    for selector in SERVER_SELECTORS:
        items = apps.list_namespaced_deployment(
            namespace, label_selector=selector, _request_timeout=DISCOVERY_TIMEOUT
        ).items
        if items:
            return items[0]
    return None


#: the targets a connection URL gives, when discovery cannot read it
_URL_KEYS = "postgres.host, postgres.port, postgres.user, postgres.dbname and postgres.password"
_WHERE = "(the targets file, PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD, or --targets-from-helm)"
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _held_by(var: Any) -> str | None:
    """'Secret NAME key KEY' (or the ConfigMap) a variable takes its value from; None for a literal value."""
    source = var.value_from
    if source is None:
        return None
    if source.secret_key_ref is not None:
        return f"Secret {source.secret_key_ref.name} key {source.secret_key_ref.key}"
    if source.config_map_key_ref is not None:
        return f"ConfigMap {source.config_map_key_ref.name} key {source.config_map_key_ref.key}"
    return "a field of the pod" if source.field_ref is not None else "a reference"


def _url_parts(url: str, env: dict[str, Any]) -> dict[str, Any]:
    """The password-less parts of a connection URL. Kubernetes expands `$(VAR)` from the container's other
    variables: a part made from a literal variable is read, a part made from one a Secret holds stays unknown."""

    def expand(match: re.Match[str]) -> str:
        var = env.get(match.group(1))
        return var.value if var is not None and var.value is not None and var.value_from is None else match.group(0)

    parts = urlsplit(_REFERENCE.sub(expand, url))
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    host, _, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not host:
        host, port = port, ""
    values: dict[str, Any] = {
        "postgres.host": host.strip("[]") or None,
        "postgres.port": int(port) if port.isdigit() else None,
        "postgres.dbname": parts.path.lstrip("/") or None,
        "postgres.user": unquote(user) or None,
    }
    return {key: value for key, value in values.items() if value and "$(" not in str(value)}


def _from_server_env(deployment: Any) -> tuple[dict[str, Resolved], list[str]]:
    found: dict[str, Resolved] = {}
    notes: list[str] = []
    name = f"Deployment {deployment.metadata.namespace}/{deployment.metadata.name}"
    env: dict[str, Any] = {}
    for container in deployment.spec.template.spec.containers or []:
        for var in container.env or []:
            env.setdefault(var.name, var)

    def source(var: str) -> str:
        return f"discovered: {name} env {var}"

    for var, key in _DATABASE_ENV.items():
        item = env.get(var)
        if item is None or key in found:
            continue
        if item.value and "$(" not in item.value:
            value: Any = int(item.value) if key.endswith(".port") else item.value
            found[key] = Resolved(value, source(var))
        elif _held_by(item):
            held = _held_by(item)
            notes.append(f"postgres: {name} takes {var} from {held}, which discovery does not read; set {key}")
    for var in _URL_ENV:
        item = env.get(var)
        if item is None:
            continue
        if item.value:
            for key, value in _url_parts(item.value, env).items():
                found.setdefault(key, Resolved(value, source(var) + " (password not read)"))
        elif _held_by(item):
            # The whole URL is in a Secret (the prefect-server chart's default): no part of it is known here,
            # so no host is guessed; the check that needs one says where the install keeps it.
            notes.append(
                f"postgres: {name} takes {var} from {_held_by(item)}, which discovery does not read; "
                f"set {_URL_KEYS} {_WHERE}"
            )
    redis_host, redis_port = env.get("PREFECT_REDIS_MESSAGING_HOST"), env.get("PREFECT_REDIS_MESSAGING_PORT")
    if redis_host is not None and redis_host.value:
        ssl = env.get("PREFECT_REDIS_MESSAGING_SSL")
        scheme = "rediss" if ssl is not None and str(ssl.value).lower() in ("1", "true", "yes") else "redis"
        port = redis_port.value if redis_port is not None and redis_port.value else "6379"
        db = env.get("PREFECT_REDIS_MESSAGING_DB")
        path = f"/{db.value}" if db is not None and db.value else "/0"
        found["redis.urls"] = Resolved({"messaging": f"{scheme}://{redis_host.value}:{port}{path}"},
                                       source("PREFECT_REDIS_MESSAGING_HOST/PORT"))  # fmt: skip
        user = env.get("PREFECT_REDIS_MESSAGING_USERNAME")
        if user is not None and user.value:
            found["redis.username"] = Resolved(user.value, source("PREFECT_REDIS_MESSAGING_USERNAME"))
    elif redis_host is not None and _held_by(redis_host):
        notes.append(
            f"redis: {name} takes PREFECT_REDIS_MESSAGING_HOST from {_held_by(redis_host)}, which discovery "
            "does not read; set redis.urls"
        )
    for var, key in _SECRET_ENV.items():
        item = env.get(var)
        if item is not None and _held_by(item):
            section = key.split(".")[0]
            notes.append(f"{section}: {name} takes {var} from {_held_by(item)}, which discovery does not read")
    for var, key in (("PREFECT_UI_URL", "prefect.ui_url"), ("PREFECT_UI_API_URL", "prefect.ui_api_url")):
        item = env.get(var)
        if item is not None and item.value:
            found[key] = Resolved(item.value.rstrip("/"), source(var))
    return found, notes


def _from_ingresses(networking: Any, namespace: str) -> dict[str, Resolved]:
    hosts: list[tuple[str, str]] = []
    for ingress in networking.list_namespaced_ingress(namespace, _request_timeout=DISCOVERY_TIMEOUT).items:
        for rule in ingress.spec.rules or []:
            if rule.host:
                hosts.append((rule.host, f"discovered: Ingress {namespace}/{ingress.metadata.name} host"))
    return {key: Resolved(host, source) for key, (host, source) in edge_hosts(hosts).items()}


def _from_http_routes(custom: Any, namespace: str) -> dict[str, Resolved]:
    """Hosts of the HTTPRoutes in `namespace` and the address of the Gateway they attach to (nothing when the
    cluster serves no Gateway API)."""
    from kubernetes.client.exceptions import ApiException

    group, version = "gateway.networking.k8s.io", "v1"
    try:
        routes = (
            custom.list_namespaced_custom_object(
                group, version, namespace, "httproutes", _request_timeout=DISCOVERY_TIMEOUT
            ).get("items")
            or []
        )
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    hosts: list[tuple[str, str]] = []
    found: dict[str, Resolved] = {}
    for route in routes:
        name = f"HTTPRoute {namespace}/{route['metadata']['name']}"
        spec = route.get("spec") or {}
        hosts += [(str(h), f"discovered: {name} hostnames") for h in spec.get("hostnames") or [] if "*" not in h]
        for parent in spec.get("parentRefs") or []:
            if "edge.lb_address" in found or parent.get("kind", "Gateway") != "Gateway":
                continue
            where = parent.get("namespace") or namespace
            try:
                gateway = custom.get_namespaced_custom_object(
                    group, version, where, "gateways", parent["name"], _request_timeout=DISCOVERY_TIMEOUT
                )
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            addresses = [a["value"] for a in (gateway.get("status") or {}).get("addresses") or [] if a.get("value")]
            if addresses:
                source = f"discovered: Gateway {where}/{parent['name']} status.addresses"
                found["edge.lb_address"] = Resolved(addresses[0], source)
    for key, (host, source) in edge_hosts(hosts).items():
        found.setdefault(key, Resolved(host, source))
    return found


def _unless_hosts(found: dict[str, Resolved], custom: Any, namespace: str) -> dict[str, Resolved]:
    return {} if "edge.api_host" in found else _from_http_routes(custom, namespace)


def _from_load_balancer(core: Any, namespace: str) -> dict[str, Resolved]:
    for service in core.list_namespaced_service(namespace, _request_timeout=DISCOVERY_TIMEOUT).items:
        if service.spec.type != "LoadBalancer":
            continue
        for entry in (service.status.load_balancer and service.status.load_balancer.ingress) or []:
            address = entry.ip or entry.hostname
            if address:
                return {
                    "edge.lb_address": Resolved(
                        address, f"discovered: Service {namespace}/{service.metadata.name} status"
                    )
                }
    return {}


def discover_from_cluster(targets: Targets) -> tuple[dict[str, Resolved], list[str]]:
    """What the cluster says about the install, read-only; (values, notes about what stayed unknown)."""
    if not targets.resolved("kubernetes.kubeconfig"):
        return {}, []
    from kubernetes import client

    from readiness.core.expect import CheckError
    from readiness.targets.kube import api_client

    try:
        api = api_client(targets, timeout=DISCOVERY_TIMEOUT)
    except CheckError as exc:
        return {}, [f"discovery: {exc}"]
    namespace = str(targets.get("kubernetes.namespace"))
    ingress_namespace = str(targets.get("kubernetes.ingress_namespace"))
    found: dict[str, Resolved] = {}
    notes: list[str] = []
    steps = (
        ("the Prefect server Deployment", lambda: _server_step(client.AppsV1Api(api), namespace)),
        ("the Ingresses", lambda: (_from_ingresses(client.NetworkingV1Api(api), namespace), [])),
        # Only when no Ingress gave the hosts: Prefect is then exposed through the Gateway API (or not at all).
        ("the Gateway API routes", lambda: (_unless_hosts(found, client.CustomObjectsApi(api), namespace), [])),
        ("the load balancer Service", lambda: (_from_load_balancer(client.CoreV1Api(api), ingress_namespace), [])),
    )
    try:
        for what, step in steps:
            try:
                values, step_notes = step()
            except client.ApiException as exc:
                notes.append(f"discovery of {what}: the API server answered {exc.status} {exc.reason}")
                continue
            for key, value in values.items():
                found.setdefault(key, value)
            notes.extend(step_notes)
    except Exception as exc:  # unreachable cluster, TLS, timeouts: one note, the checks carry on
        notes.append(f"discovery: cannot reach the cluster: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        api.close()
    return found, notes


def _server_step(apps: Any, namespace: str) -> tuple[dict[str, Resolved], list[str]]:
    deployment = _server_deployment(apps, namespace)
    if deployment is None:
        return {}, [f"discovery: no Prefect server Deployment found in namespace {namespace}"]
    return _from_server_env(deployment)
