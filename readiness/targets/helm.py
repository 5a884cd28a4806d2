"""The targets a user's prefect-helm values files name (`--targets-from-helm VALUES.yaml`, repeatable).

Users of the prefect-server and prefect-worker charts keep their values files in Git; those files already say
where the install's parts live. This layer reads them as the charts' templates do (the same keys, defaults and
precedence) and fills the targets they name, each with the source `helm values FILE: key.path`:

- prefect-server: the namespace (``namespaceOverride``), the edge hosts (``ingress.host.hostname``,
  ``ingress.extraHosts``, ``httproute.hostnames``), ``server.uiConfig.prefectUiApiUrl``, the database (in the
  chart's order: ``sqlite``, ``externalDatabase.connectionString``, ``externalDatabase.connectionStringSecretKey``,
  the ``externalDatabase`` fields, the bundled ``postgresql`` subchart's primary Service, the legacy ``secret.*``),
  Redis (``backgroundServices.messaging.redis`` or the bundled ``redis`` subchart's headless Service) and the
  API's basic auth;
- prefect-worker: the work pool (``worker.config.workPool``) and the API URL and credentials the worker uses
  (``worker.apiConfig`` with its ``cloudApiConfig`` / ``customerManagedCloudApiConfig`` /
  ``selfHostedServerApiConfig``).

A value the file takes from an existing Secret stays a reference, ``Secret NAME key KEY``: it is shown by
`readiness targets` and named in the skip reason of the check that needs it, and the Secret is never read.
A secret written inline in the values file is used and redacted like every other secret.

Precedence (readiness/targets/model.py): below a targets file, above the conventions and discovery, except the
Prefect API's URL and credentials: the worker's are how a pod reaches the API, so an exported
``PREFECT_API_URL`` (how this machine reaches it) wins over them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from readiness.targets.model import Resolved, TargetsError, edge_hosts

SERVER_CHART = "prefect-server"
WORKER_CHART = "prefect-worker"
#: top-level keys only one chart has: how a values file tells which chart it is for
_CHART_KEYS = {
    SERVER_CHART: {"server", "postgresql", "externalDatabase", "backgroundServices", "ingress", "httproute",
                   "gateway", "secret", "sqlite", "redis", "migrations", "service"},
    WORKER_CHART: {"worker", "role", "rolebinding"},
}  # fmt: skip
#: the keys whose helm values stay below the conventions (see the module's docstring)
BELOW_CONVENTIONS = frozenset({"prefect.api_url", "prefect.api_key", "prefect.auth_string"})
_TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


@dataclass(frozen=True)
class Release:
    """The prefect-server release: its name (the bundled subcharts' Services are named after it) and namespace."""

    name: str = SERVER_CHART
    namespace: str | None = None
    given: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Release:
        """`NAME` or `NAMESPACE/NAME` (the --helm-release option); None: the charts' documented release name."""
        if not text:
            return cls()
        namespace, _, name = text.rpartition("/")
        if not name or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
            raise TargetsError(
                f"--helm-release {text}: expected a release name or NAMESPACE/NAME (lowercase, digits, -)"
            )
        return cls(name, namespace or None, given=True)


@dataclass
class HelmTargets:
    """What the values files say: values (above the conventions), fallbacks (below them), Secret references."""

    values: dict[str, Resolved] = field(default_factory=dict)
    fallbacks: dict[str, Resolved] = field(default_factory=dict)
    #: targets key -> Resolved("Secret NAME key KEY", source): where the install keeps a value that is not read
    references: dict[str, Resolved] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: whether a value was named after the release (a bundled subchart's Service or Secret)
    used_release: bool = False

    def put(self, key: str, value: Any, source: str, *, secret: bool = False) -> None:
        if value in (None, "", [], {}):
            return
        target = self.fallbacks if key in BELOW_CONVENTIONS else self.values
        target.setdefault(key, Resolved(value, source, secret))

    def refer(self, key: str, secret: str, secret_key: str, source: str) -> None:
        self.references.setdefault(key, Resolved(f"Secret {secret} key {secret_key}", source))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class ChartValues:
    """One chart's values files (later files win, as `helm -f a.yaml -f b.yaml`), read by dotted key with the
    chart's default; a wrong type stops with one line: the file, the key, what was expected."""

    def __init__(self, chart: str, files: Sequence[tuple[Path, Mapping[str, Any], str]]) -> None:
        self.chart = chart
        self.files = list(files)  # (path, values, key prefix inside the file: "" or "prefect-server.")

    def _lookup(self, dotted: str) -> tuple[Any, Path, str] | None:
        for path, data, prefix in reversed(self.files):
            node: Any = data
            walked: list[str] = []
            for part in dotted.split("."):
                if node is None:
                    break
                if not isinstance(node, Mapping):
                    where = prefix + ".".join(walked)
                    raise TargetsError(f"{path}: {where}: expected a mapping (with key {part}), got {_kind(node)}")
                walked.append(part)
                node = node.get(part)
            else:
                if node is not None:
                    return node, path, prefix
        return None

    def source(self, dotted: str) -> str:
        """`helm values FILE: key.path` of the file that sets `dotted` (the last one), or of the chart's default."""
        found = self._lookup(dotted)
        if found is None:
            path, prefix = self.files[-1][0], self.files[-1][2]
            return f"helm values {path}: {prefix}{dotted} (not set: the {self.chart} chart's default)"
        return f"helm values {found[1]}: {found[2]}{dotted}"

    def given(self, dotted: str) -> bool:
        """Whether a values file sets `dotted` (rather than the chart's default)."""
        return self._lookup(dotted) is not None

    def fail(self, dotted: str, expected: str, value: Any, *, item: str = "") -> TargetsError:
        """The one-line error for `dotted` (`item`: the list entry inside it, as `[2].name`)."""
        found = self._lookup(dotted)
        path, prefix = (found[1], found[2]) if found else (self.files[-1][0], "")
        return TargetsError(f"{path}: {prefix}{dotted}{item}: expected {expected}, got {_kind(value)}")

    def missing(self, dotted: str, expected: str, *, because: str) -> TargetsError:
        """The one-line error for a key that must be set since `because` is, in the file that sets `because`."""
        found = self._lookup(because)
        path, prefix = (found[1], found[2]) if found else (self.files[-1][0], self.files[-1][2])
        return TargetsError(f"{path}: {prefix}{dotted}: expected {expected}")

    def text(self, dotted: str, default: str = "") -> str:
        found = self._lookup(dotted)
        if found is None:
            return default
        value = found[0]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(dotted, "a string", value)
        return str(value)

    def flag(self, dotted: str, default: bool = False) -> bool:
        found = self._lookup(dotted)
        if found is None:
            return default
        if not isinstance(found[0], bool):
            raise self.fail(dotted, "true or false", found[0])
        return found[0]

    def port(self, dotted: str, default: int | None = None) -> int | None:
        found = self._lookup(dotted)
        if found is None or found[0] == "":
            return default
        value = found[0]
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
            raise self.fail(dotted, "a port number (1-65535)", value)
        if not 1 <= int(value) <= 65535:
            raise self.fail(dotted, "a port number (1-65535)", value)
        return int(value)

    def items(self, dotted: str) -> list[Any]:
        found = self._lookup(dotted)
        if found is None:
            return []
        if not isinstance(found[0], list):
            raise self.fail(dotted, "a list", found[0])
        return found[0]


# -- reading the files ---------------------------------------------------------------------------
def _load(path: Path) -> Mapping[str, Any]:
    from readiness.targets.files import read_yaml_file

    raw = read_yaml_file(path, "helm values file")
    if not isinstance(raw, dict):
        raise TargetsError(f"{path}: (top level): expected a mapping of the chart's values, got {_kind(raw)}")
    return raw


def _split_by_chart(path: Path, data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str]]:
    """(chart, values, prefix) for each chart the file configures: its own values, or an umbrella chart's
    `prefect-server:` / `prefect-worker:` sections."""
    nested = [(chart, data[chart], f"{chart}.") for chart in (SERVER_CHART, WORKER_CHART) if chart in data]
    for chart, body, _ in nested:
        if not isinstance(body, dict):
            raise TargetsError(f"{path}: {chart}: expected a mapping of the {chart} chart's values, got {_kind(body)}")
    if nested:
        return nested  # type: ignore[return-value]
    charts = [chart for chart, keys in _CHART_KEYS.items() if keys & set(data)]
    if len(charts) == 1:
        return [(charts[0], data, "")]
    if not data:
        return []
    if charts:
        raise TargetsError(
            f"{path}: (top level): expected the values of one chart, got keys of both prefect-server "
            f"({', '.join(sorted(_CHART_KEYS[SERVER_CHART] & set(data)))}) and prefect-worker "
            f"({', '.join(sorted(_CHART_KEYS[WORKER_CHART] & set(data)))}); use one file per chart"
        )
    raise TargetsError(
        f"{path}: (top level): cannot tell which chart these values are for; expected a key of prefect-server "
        f"(server, postgresql, externalDatabase, ingress, ...) or of prefect-worker (worker)"
    )


def _render(template: str, release: Release, namespace: str) -> str | None:
    """The few Helm template expressions a values string can hold in practice; None for any other."""
    known = {".Release.Name": release.name, ".Release.Namespace": namespace}
    unknown = [expr for expr in _TEMPLATE.findall(template) if expr not in known]
    if unknown:
        return None
    return _TEMPLATE.sub(lambda m: known[m.group(1)], template)


def _subchart_fullname(values: ChartValues, subchart: str, release: Release) -> str:
    """The Bitnami `common.names.fullname` of a bundled subchart (its values under `subchart.`)."""
    override = values.text(f"{subchart}.fullnameOverride")
    if override:
        return override[:63].rstrip("-")
    name = values.text(f"{subchart}.nameOverride") or subchart
    full = release.name if name in release.name else f"{release.name}-{name}"
    return full[:63].rstrip("-")


def _server_fullname(values: ChartValues, release: Release) -> str:
    override = values.text("fullnameOverride", SERVER_CHART)
    if override:
        return override[:63].rstrip("-")
    name = values.text("nameOverride") or SERVER_CHART
    return (release.name if name in release.name else f"{release.name}-{name}")[:63].rstrip("-")


# -- prefect-server ------------------------------------------------------------------------------
def _server(values: ChartValues, release: Release, fallback_namespace: str, out: HelmTargets) -> None:
    namespace = values.text("namespaceOverride") or release.namespace or fallback_namespace
    if values.text("namespaceOverride"):
        out.put("kubernetes.namespace", namespace, values.source("namespaceOverride"))
    elif release.namespace:
        out.put("kubernetes.namespace", namespace, f"--helm-release {release.namespace}/{release.name}")
    _edge(values, release, namespace, out)
    env = _server_env(values)
    url = env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL") or env.get("PREFECT_API_DATABASE_CONNECTION_URL")
    if url is not None:  # the chart puts server.env after its own variables: the last one wins in the pod
        _database_from_env(url, out)
    else:
        _database(values, release, namespace, out)
    if "PREFECT_REDIS_MESSAGING_HOST" in env:
        _redis_from_env(env, out)
    else:
        _redis(values, release, namespace, out)
    if values.flag("server.basicAuth.enabled"):
        existing = values.text("server.basicAuth.existingSecret")
        if existing:
            out.refer("prefect.auth_string", existing, "auth-string", values.source("server.basicAuth.existingSecret"))
        elif values.given("server.basicAuth.authString"):
            out.put("prefect.auth_string", values.text("server.basicAuth.authString"),
                    values.source("server.basicAuth.authString"), secret=True)  # fmt: skip


def _edge(values: ChartValues, release: Release, namespace: str, out: HelmTargets) -> None:
    hosts: list[tuple[str, str]] = []
    if values.flag("ingress.enabled"):
        hostname = values.text("ingress.host.hostname", "prefect.local")
        if hostname:
            hosts.append((hostname, values.source("ingress.host.hostname")))
        for index, entry in enumerate(values.items("ingress.extraHosts")):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise values.fail("ingress.extraHosts", "a mapping with name: HOST", entry, item=f"[{index}]")
            hosts.append((entry["name"], values.source("ingress.extraHosts") + f"[{index}].name"))
    if values.flag("gateway.enabled") and values.flag("httproute.enabled", True):
        for index, entry in enumerate(values.items("httproute.hostnames")):
            if not isinstance(entry, str):
                raise values.fail("httproute.hostnames", "a host name", entry, item=f"[{index}]")
            hosts.append((entry, values.source("httproute.hostnames") + f"[{index}]"))
    for key, (host, source) in edge_hosts(hosts).items():
        out.put(key, host, source)
    if values.given("server.uiConfig.prefectUiApiUrl"):
        raw = values.text("server.uiConfig.prefectUiApiUrl")
        url = _render(raw, release, namespace)
        source = values.source("server.uiConfig.prefectUiApiUrl")
        if url is None:
            out.notes.append(
                f"prefect: {source} is a Helm template this reader does not evaluate; set prefect.ui_api_url"
            )
        elif url:
            out.put("prefect.ui_api_url", url.rstrip("/"), source)
            # the chart's own server.uiUrl: the UI API URL without /api
            ui = url.rstrip("/").removesuffix(values.text("server.apiBasePath", "/api").rstrip("/") or "/api")
            if urlsplit(ui).hostname not in (None, "localhost", "127.0.0.1"):
                out.put("prefect.ui_url", ui, source + " (without the API path, as the chart's server.uiUrl)")


@dataclass(frozen=True)
class _EnvVar:
    name: str
    value: str | None
    secret: tuple[str, str] | None  # (Secret name, key) of a valueFrom.secretKeyRef
    source: str


def _server_env(values: ChartValues) -> dict[str, _EnvVar]:
    """The extra variables the server container gets: global.prefect.env, then server.env (later wins)."""
    env: dict[str, _EnvVar] = {}
    for dotted in ("global.prefect.env", "server.env"):
        for index, entry in enumerate(values.items(dotted)):
            expected = "a mapping with name and value (or valueFrom)"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise values.fail(dotted, expected, entry, item=f"[{index}]")
            value_from = entry.get("valueFrom")
            ref = value_from.get("secretKeyRef") if isinstance(value_from, dict) else None
            secret = (str(ref.get("name")), str(ref.get("key"))) if isinstance(ref, dict) else None
            value = entry.get("value")
            source = f"{values.source(dotted)}[{index}] ({entry['name']})"
            env[entry["name"]] = _EnvVar(entry["name"], None if value is None else str(value), secret, source)
    return env


def _database_from_env(var: _EnvVar, out: HelmTargets) -> None:
    if var.secret is not None:
        secret, key = var.secret
        out.refer("postgres.password", secret, key, var.source)
        out.notes.append(
            f"postgres: {var.source}: the server takes {var.name} from Secret {secret} key {key}, which is not "
            "read; set postgres.host, postgres.port, postgres.user, postgres.dbname (the targets file or "
            "PGHOST/PGPORT/PGUSER/PGDATABASE) and the password (PGPASSWORD or postgres.password_file)"
        )
    elif var.value and "{{" not in var.value and "$(" not in var.value:
        _postgres_from_url(var.value, var.source, out)
    else:
        out.notes.append(f"postgres: {var.source} is not a literal URL this reader can use; set postgres.host")


def _redis_from_env(env: dict[str, _EnvVar], out: HelmTargets) -> None:
    host = env["PREFECT_REDIS_MESSAGING_HOST"]
    if not host.value:
        out.notes.append(f"redis: {host.source} takes the Redis host from a reference this reader does not follow")
        return

    def literal(name: str, default: str) -> str:
        var = env.get(name)
        return var.value if var is not None and var.value else default

    scheme = "rediss" if literal("PREFECT_REDIS_MESSAGING_SSL", "false").lower() in ("1", "true", "yes") else "redis"
    url = f"{scheme}://{host.value}:{literal('PREFECT_REDIS_MESSAGING_PORT', '6379')}/"
    out.put("redis.urls", {"messaging": url + literal("PREFECT_REDIS_MESSAGING_DB", "0")}, host.source)
    password = env.get("PREFECT_REDIS_MESSAGING_PASSWORD")
    if password is not None and password.secret is not None:
        out.refer("redis.password", *password.secret, password.source)
    elif password is not None and password.value:
        out.put("redis.password", password.value, password.source, secret=True)


def _postgres_from_url(url: str, source: str, out: HelmTargets) -> None:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        out.notes.append(f"postgres: {source} is a {parts.scheme or 'non-URL'} database, not PostgreSQL")
        return
    out.put("postgres.host", parts.hostname, source)
    try:
        out.put("postgres.port", parts.port, source)
    except ValueError:  # a port that is not a number: the run says so rather than guess one
        out.notes.append(f"postgres: {source}: the URL's port is not a number; set postgres.port")
    out.put("postgres.dbname", parts.path.lstrip("/") or None, source)
    out.put("postgres.user", unquote(parts.username) if parts.username else None, source)
    if parts.password:
        out.put("postgres.password", unquote(parts.password), source, secret=True)


_COMPONENTS = (("host", "postgres.host"), ("port", "postgres.port"), ("name", "postgres.dbname"),
               ("username", "postgres.user"), ("password", "postgres.password"))  # fmt: skip


def _database(values: ChartValues, release: Release, namespace: str, out: HelmTargets) -> None:
    db = "externalDatabase"
    if values.flag("sqlite.enabled"):
        out.notes.append(f"postgres: {values.source('sqlite.enabled')}: the server uses SQLite, not PostgreSQL")
        return
    if values.text(f"{db}.connectionString"):
        _postgres_from_url(values.text(f"{db}.connectionString"), values.source(f"{db}.connectionString"), out)
        return
    existing = values.text(f"{db}.existingSecret")
    component = [f for f, _ in _COMPONENTS] + ["driver"]
    if values.text(f"{db}.connectionStringSecretKey") or any(
        values.text(f"{db}.{f}") or values.text(f"{db}.{f}SecretKey") for f in component
    ):
        secret_keys = [k for k in ["connectionStringSecretKey"] + [f"{f}SecretKey" for f in component]
                       if values.text(f"{db}.{k}")]  # fmt: skip
        if secret_keys and not existing:
            raise values.missing(
                f"{db}.existingSecret",
                f"the name of the Secret that holds the database settings, since {db}.{secret_keys[0]} is set",
                because=f"{db}.{secret_keys[0]}",
            )
    if values.text(f"{db}.connectionStringSecretKey"):
        key = values.text(f"{db}.connectionStringSecretKey")
        source = values.source(f"{db}.connectionStringSecretKey")
        out.refer("postgres.password", existing, key, source)
        out.notes.append(
            f"postgres: {source}: the server takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret {existing} "
            f"key {key}, which is not read; set postgres.host, postgres.port, postgres.user, postgres.dbname "
            "(the targets file or PGHOST/PGPORT/PGUSER/PGDATABASE) and the password (PGPASSWORD or "
            "postgres.password_file)"
        )
        return
    if any(values.text(f"{db}.{f}") or values.text(f"{db}.{f}SecretKey") for f in component):
        for name, key in _COMPONENTS:
            secret_key = values.text(f"{db}.{name}SecretKey")
            if secret_key:
                source = values.source(f"{db}.{name}SecretKey")
                out.refer(key, existing, secret_key, source)
                if key != "postgres.password":
                    out.notes.append(
                        f"postgres: {source}: the server takes {key.split('.')[1]} from Secret {existing} key "
                        f"{secret_key}, which is not read; set {key}"
                    )
            elif name == "port":
                out.put(key, values.port(f"{db}.port", 5432), values.source(f"{db}.port"))
            elif values.text(f"{db}.{name}"):
                out.put(key, values.text(f"{db}.{name}"), values.source(f"{db}.{name}"), secret=name == "password")
        return
    if values.flag("postgresql.enabled", True):
        out.used_release = True
        primary = _subchart_fullname(values, "postgresql", release)
        if values.text("postgresql.architecture", "standalone") == "replication":
            primary = f"{primary}-{values.text('postgresql.primary.name', 'primary')}"[:63].rstrip("-")
        how = f"the bundled postgresql subchart's primary Service of release {release.name} in {namespace}"
        out.put("postgres.host", f"{primary}.{namespace}", values.source("postgresql.enabled") + f" ({how})")
        port_key = next(
            (k for k in ("postgresql.global.postgresql.service.ports.postgresql",
                         "postgresql.primary.service.ports.postgresql") if values.given(k)),
            "postgresql.primary.service.ports.postgresql",
        )  # fmt: skip
        out.put("postgres.port", values.port(port_key, 5432), values.source(port_key))
        for name, key, default in (("database", "postgres.dbname", "server"), ("username", "postgres.user", "prefect")):
            dotted = next(
                (
                    k
                    for k in (f"postgresql.global.postgresql.auth.{name}", f"postgresql.auth.{name}")
                    if values.given(k)
                ),
                f"postgresql.auth.{name}",
            )
            out.put(key, values.text(dotted, default), values.source(dotted))
        existing = values.text("postgresql.auth.existingSecret")
        if existing:
            source = values.source("postgresql.auth.existingSecret")
            password_key = values.text("postgresql.auth.secretKeys.userPasswordKey", "password")
            out.refer("postgres.password", existing, password_key, source)
        elif values.given("postgresql.auth.password"):
            out.put("postgres.password", values.text("postgresql.auth.password"),
                    values.source("postgresql.auth.password"), secret=True)  # fmt: skip
        else:
            secret = values.text("secret.name") or f"{_server_fullname(values, release)}-postgresql-connection"
            # the chart's default password, in the connection string of the Secret it writes
            out.refer("postgres.password", secret, "connection-string", values.source("postgresql.enabled"))
        return
    # the legacy secret.* settings: the chart writes them into its connection-string Secret
    secret = values.text("secret.name") or f"{_server_fullname(values, release)}-postgresql-connection"
    if not values.flag("secret.create", True):
        source = values.source("secret.create")
        out.refer("postgres.password", secret, "connection-string", source)
        out.notes.append(
            f"postgres: {source} is false: the server takes PREFECT_SERVER_DATABASE_CONNECTION_URL from "
            f"Secret {secret} key connection-string, which is not read; set postgres.host, postgres.port, "
            "postgres.user, postgres.dbname and the password (PGPASSWORD or postgres.password_file)"
        )
        return
    out.put("postgres.host", values.text("secret.host"), values.source("secret.host"))
    out.put("postgres.port", values.port("secret.port"), values.source("secret.port"))
    out.put("postgres.dbname", values.text("secret.database"), values.source("secret.database"))
    out.put("postgres.user", values.text("secret.username"), values.source("secret.username"))
    out.put("postgres.password", values.text("secret.password"), values.source("secret.password"), secret=True)


def _redis(values: ChartValues, release: Release, namespace: str, out: HelmTargets) -> None:
    base = "backgroundServices.messaging.redis"
    if not values.flag("backgroundServices.runAsSeparateDeployment"):
        if values.text(f"{base}.host") or values.flag("redis.enabled"):
            out.notes.append(
                f"redis: {values.source('backgroundServices.runAsSeparateDeployment')} is false: the chart gives "
                "the server no Redis settings, so redis.* is not taken from the values"
            )
        return
    host = values.text(f"{base}.host")
    if host:
        host_source = values.source(f"{base}.host")
    elif values.flag("redis.enabled"):
        out.used_release = True
        host = f"{_subchart_fullname(values, 'redis', release)}-headless.{namespace}.svc.cluster.local"
        host_source = (
            values.source("redis.enabled") + f" (the bundled redis subchart's Service of release {release.name})"
        )
    else:
        raise values.missing(
            f"{base}.host",
            "a Redis host (or redis.enabled: true), since backgroundServices.runAsSeparateDeployment is true",
            because="backgroundServices.runAsSeparateDeployment",
        )
    port = values.port(f"{base}.port", 6379)
    db = values.text(f"{base}.db", "0")
    scheme = "rediss" if values.flag(f"{base}.ssl") else "redis"
    out.put("redis.urls", {"messaging": f"{scheme}://{host}:{port}/{db}"}, f"{host_source}, {base}.port/db/ssl")
    out.put("redis.username", values.text(f"{base}.username"), values.source(f"{base}.username"))
    if values.flag("redis.enabled") and not values.text(f"{base}.password"):
        out.refer("redis.password", _subchart_fullname(values, "redis", release), "redis-password",
                  values.source("redis.enabled"))  # fmt: skip
    elif values.text(f"{base}.existingSecret"):
        key = values.text(f"{base}.existingSecretPasswordKey", "redis-password") or "redis-password"
        out.refer("redis.password", values.text(f"{base}.existingSecret"), key, values.source(f"{base}.existingSecret"))
    elif values.text(f"{base}.password"):
        out.put("redis.password", values.text(f"{base}.password"), values.source(f"{base}.password"), secret=True)


# -- prefect-worker ------------------------------------------------------------------------------
def _worker(values: ChartValues, out: HelmTargets) -> None:
    # the server's namespace, when no server values said it: PREFECT-WORKLOADS looks there for both charts
    out.put("kubernetes.namespace", values.text("namespaceOverride"), values.source("namespaceOverride"))
    out.put("prefect.work_pool", values.text("worker.config.workPool"), values.source("worker.config.workPool"))
    api = values.text("worker.apiConfig", "cloud")
    if api in ("cloud", "customerManagedCloud"):
        section = "worker.cloudApiConfig" if api == "cloud" else "worker.customerManagedCloudApiConfig"
        url_key = f"{section}.cloudUrl" if api == "cloud" else f"{section}.apiUrl"
        base = values.text(url_key, "https://api.prefect.cloud/api" if api == "cloud" else "")
        account, workspace = values.text(f"{section}.accountId"), values.text(f"{section}.workspaceId")
        if base and account and workspace:
            url = f"{base.rstrip('/')}/accounts/{account}/workspaces/{workspace}"
            out.put("prefect.api_url", url, values.source(url_key) + ", .accountId, .workspaceId")
        secret = values.text(f"{section}.apiKeySecret.name", "prefect-api-key")
        key = values.text(f"{section}.apiKeySecret.key", "key")
        out.refer("prefect.api_key", secret, key, values.source(f"{section}.apiKeySecret.name"))
    elif api == "selfHostedServer":
        section = "worker.selfHostedServerApiConfig"
        url = values.text(f"{section}.apiUrl").rstrip("/")
        if url and _in_cluster(url):
            # How a pod reaches the API; this machine reaches it through the edge, which the server's values name.
            out.notes.append(
                f"prefect: {values.source(f'{section}.apiUrl')} is the in-cluster address {url}, which this machine "
                "does not reach: set PREFECT_API_URL (or prefect.api_url) to the public API URL"
            )
        else:
            out.put("prefect.api_url", url, values.source(f"{section}.apiUrl"))
        if values.flag(f"{section}.basicAuth.enabled"):
            existing = values.text(f"{section}.basicAuth.existingSecret")
            if existing:
                out.refer(
                    "prefect.auth_string", existing, "auth-string", values.source(f"{section}.basicAuth.existingSecret")
                )
            elif values.given(f"{section}.basicAuth.authString"):
                out.put("prefect.auth_string", values.text(f"{section}.basicAuth.authString"),
                        values.source(f"{section}.basicAuth.authString"), secret=True)  # fmt: skip
    else:
        raise values.fail("worker.apiConfig", "one of cloud, customerManagedCloud, selfHostedServer", api)


def _in_cluster(url: str) -> bool:
    """An address only a pod resolves: a bare Service name or a cluster DNS name (*.svc, *.cluster.local)."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").rstrip(".")
    return bool(host) and ("." not in host or host.endswith((".svc", ".cluster.local")) or ".svc." in host)


def helm_layer(files: Iterable[str | Path], release: Release, fallback_namespace: str) -> HelmTargets:
    """The targets the values files name. `fallback_namespace`: the namespace when neither namespaceOverride
    nor the release says it (the namespace the other layers resolved)."""
    by_chart: dict[str, list[tuple[Path, Mapping[str, Any], str]]] = {SERVER_CHART: [], WORKER_CHART: []}
    for name in files:
        path = Path(name).expanduser().resolve()
        if not path.is_file():
            raise TargetsError(f"{path}: helm values file not found")
        for chart, data, prefix in _split_by_chart(path, _load(path)):
            by_chart[chart].append((path, data, prefix))
    out = HelmTargets()
    if by_chart[SERVER_CHART]:
        server = ChartValues(SERVER_CHART, by_chart[SERVER_CHART])
        _server(server, release, fallback_namespace, out)
        namespace = server.text("namespaceOverride") or release.namespace
        if out.used_release and not (release.given and namespace):
            out.notes.append(
                f"helm: the prefect-server release is taken to be {release.name} in namespace "
                f"{namespace or fallback_namespace} (--helm-release NAMESPACE/NAME to say otherwise)"
            )
    if by_chart[WORKER_CHART]:
        _worker(ChartValues(WORKER_CHART, by_chart[WORKER_CHART]), out)
    return out
