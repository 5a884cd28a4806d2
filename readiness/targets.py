"""Where the install lives: one model every suite reads, resolved once, each value remembering its source.

The profile says WHAT is expected; the targets say WHERE each part of the install is. Values are
resolved in this order, the first that knows a key wins:

1. a targets file (``--targets FILE.yaml`` or ``READINESS_TARGETS``). Secrets appear there only as
   references (``password_file:`` / ``password_env:``); an inline secret is refused;
2. the ecosystem's own conventions: kubeconfig / ``KUBECONFIG`` / ``--kube-context``, ``PREFECT_API_URL``
   with ``PREFECT_API_KEY`` or ``PREFECT_API_AUTH_STRING`` (or the active Prefect profile), libpq's ``PG*``
   variables and ``PGPASSFILE``, ``REDIS_URL``, the cloud SDKs' region/project/subscription variables;
3. read-only discovery from the cluster (``readiness.discovery``): the Prefect server Deployment's
   environment, Ingress hosts and the load balancer address. Secrets are never read: a value only a
   Secret holds stays unknown, and the check that needs it skips, naming the key to set.

Checks read values through the session fixture ``targets`` (:class:`Targets`): ``get``, ``require``
(skips with ``target not configured: ...``), ``source`` and ``evidence``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TARGETS_ENV = "READINESS_TARGETS"
SHOWN_SECRET = "***"


class TargetsError(Exception):
    """A targets file is invalid; the message is one line: file, key, what was expected."""


# -- the file's shape ----------------------------------------------------------------------------
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KubernetesTargets(_Section):
    kubeconfig: str | None = Field(default=None, description="kubeconfig path, or `in-cluster`")
    context: str | None = Field(default=None, description="kubeconfig context (default: the current one)")
    namespace: str | None = Field(default=None, description="Prefect's namespace")
    ingress_namespace: str | None = None
    mesh_namespace: str | None = None


class PrefectTargets(_Section):
    api_url: str | None = Field(default=None, description="the Prefect API URL the clients use (…/api)")
    api_key_file: str | None = None
    api_key_env: str | None = None
    auth_string_file: str | None = None
    auth_string_env: str | None = None
    ui_url: str | None = Field(default=None, description="the public UI URL")
    ui_api_url: str | None = Field(default=None, description="the API URL the UI hands the browser")
    deployment: str | None = Field(default=None, description="flow/deployment for the end-to-end run")
    work_pool: str | None = None


class EdgeTargets(_Section):
    api_host: str | None = Field(default=None, description="public API host name (TLS SNI, DNS)")
    ui_host: str | None = Field(default=None, description="public UI host name")
    port: int | None = Field(default=None, ge=1, le=65535)
    http_port: int | None = Field(default=None, ge=1, le=65535)
    address: str | None = Field(default=None, description="IP to connect to when the names do not resolve here")
    lb_address: str | None = Field(default=None, description="what DNS must answer: the load balancer address")
    resolver: str | None = Field(default=None, description="DNS resolver, ip or ip:port (default: the system's)")
    caa_issuer: str | None = Field(default=None, description="the CAA identifier of the CA that issues the leaf")
    ca_bundle: str | None = None


class RedisTargets(_Section):
    urls: dict[str, str] | None = Field(default=None, description="role -> redis:// or rediss:// URL")
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    ca_bundle: str | None = None
    workload: str | None = Field(default=None, description="namespace/kind/name of a self-hosted Redis")
    plaintext_url: str | None = None


class PostgresTargets(_Section):
    host: str | None = None
    hostaddr: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    dbname: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    sslrootcert: str | None = None
    workload: str | None = None


class _MailServerTargets(_Section):
    host: str | None = None
    address: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None


class SmtpTargets(_MailServerTargets):
    sender: str | None = None
    recipient: str | None = None
    ca_bundle: str | None = None


class ImapTargets(_MailServerTargets):
    mailbox: str | None = None


class OidcTargets(_Section):
    preset: Literal["okta", "adfs", "oidc"] | None = None
    issuer: str | None = None
    client_id: str | None = None
    client_secret_file: str | None = None
    client_secret_env: str | None = None
    redirect_uri: str | None = None
    scopes: list[str] | None = None
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    login: Literal["browser", "password"] | None = None
    ca_bundle: str | None = None


class CloudTargets(_Section):
    provider: Literal["aws", "gcp", "azure"] | None = None
    region: str | None = None
    account: str | None = None
    project: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    cluster: str | None = None
    redis: str | None = Field(default=None, description="the managed Redis resource's name/ID")
    postgres: str | None = Field(default=None, description="the managed PostgreSQL resource's name/ID")
    endpoint_url: str | None = Field(default=None, description="API endpoint override (a local emulator)")


class TargetsFile(_Section):
    schema_version: Literal[1] = 1
    ca_bundle: str | None = Field(default=None, description="CA bundle trusted for the install's TLS")
    kubernetes: KubernetesTargets = KubernetesTargets()
    prefect: PrefectTargets = PrefectTargets()
    edge: EdgeTargets = EdgeTargets()
    redis: RedisTargets = RedisTargets()
    postgres: PostgresTargets = PostgresTargets()
    smtp: SmtpTargets = SmtpTargets()
    imap: ImapTargets = ImapTargets()
    oidc: OidcTargets = OidcTargets()
    cloud: CloudTargets = CloudTargets()


#: secret name -> (section, field); each is given in the file as <field>_file or <field>_env
SECRETS: dict[str, tuple[str, str]] = {
    "prefect.api_key": ("prefect", "api_key"),
    "prefect.auth_string": ("prefect", "auth_string"),
    "redis.password": ("redis", "password"),
    "postgres.password": ("postgres", "password"),
    "smtp.password": ("smtp", "password"),
    "imap.password": ("imap", "password"),
    "oidc.client_secret": ("oidc", "client_secret"),
    "oidc.password": ("oidc", "password"),
}

#: keys whose value is a path, resolved against the targets file's folder
_PATH_KEYS = {"ca_bundle", "kubernetes.kubeconfig", "edge.ca_bundle", "redis.ca_bundle", "postgres.sslrootcert",
              "smtp.ca_bundle", "oidc.ca_bundle"}  # fmt: skip

DEFAULTS: dict[str, Any] = {
    "kubernetes.namespace": "prefect",
    "kubernetes.ingress_namespace": "ingress-nginx",
    "kubernetes.mesh_namespace": "istio-system",
    "edge.port": 443,
    "edge.http_port": 80,
    "imap.mailbox": "INBOX",
    "oidc.preset": "oidc",
    "oidc.login": "browser",
    "oidc.scopes": ["openid", "email", "profile"],
}

#: what a key is, and the conventions that can also give it: for skip reasons and `readiness targets`
HINTS: dict[str, str] = {
    "ca_bundle": "READINESS_CA_BUNDLE, PREFECT_API_SSL_CERT_FILE or SSL_CERT_FILE",
    "kubernetes.kubeconfig": "KUBECONFIG or ~/.kube/config",
    "kubernetes.context": "--kube-context",
    "prefect.api_url": "PREFECT_API_URL or the active Prefect profile",
    "prefect.api_key": "PREFECT_API_KEY",
    "prefect.auth_string": "PREFECT_API_AUTH_STRING",
    "postgres.host": "PGHOST, or discovery from the Prefect server Deployment",
    "postgres.hostaddr": "PGHOSTADDR",
    "postgres.port": "PGPORT, or discovery",
    "postgres.user": "PGUSER, or discovery",
    "postgres.dbname": "PGDATABASE, or discovery",
    "postgres.password": "PGPASSWORD or PGPASSFILE",
    "postgres.sslmode": "PGSSLMODE",
    "postgres.sslrootcert": "PGSSLROOTCERT",
    "redis.urls": "REDIS_URL, or discovery from the Prefect server Deployment",
    "redis.password": "REDIS_URL's password",
    "edge.api_host": "the host of prefect.api_url, or discovery from the Ingress",
    "edge.ui_host": "the host of prefect.ui_url, or discovery from the Ingress",
    "edge.lb_address": "discovery from the ingress controller's LoadBalancer Service",
    "prefect.ui_url": "discovery (PREFECT_UI_URL of the Prefect server Deployment, or the Ingress)",
    "cloud.region": "AWS_REGION / AWS_DEFAULT_REGION",
    "cloud.project": "GOOGLE_CLOUD_PROJECT",
    "cloud.subscription": "AZURE_SUBSCRIPTION_ID",
    "cloud.endpoint_url": "AWS_ENDPOINT_URL",
}


@dataclass(frozen=True)
class Resolved:
    value: Any
    source: str
    secret: bool = False

    def shown(self) -> Any:
        return SHOWN_SECRET if self.secret else self.value


def all_keys() -> list[str]:
    """Every key a targets file can give (secrets by their resolved name), in file order."""
    keys: list[str] = []
    for section, info in TargetsFile.model_fields.items():
        if section == "schema_version":
            continue
        model = info.annotation
        if isinstance(model, type) and issubclass(model, _Section):
            for name in model.model_fields:
                base = name.removesuffix("_file").removesuffix("_env")
                key = f"{section}.{base}"
                if key not in keys:
                    keys.append(key)
        else:
            keys.append(section)
    return keys


# -- layer 1: the targets file -------------------------------------------------------------------
def _inline_secret_refusals(path: Path, raw: dict[str, Any]) -> None:
    for key, (section, field) in SECRETS.items():
        body = raw.get(section)
        if isinstance(body, dict) and field in body:
            raise TargetsError(
                f"{path}: {key}: secrets are not written inline; expected {key}_file (a file holding it) "
                f"or {key}_env (the name of an environment variable holding it)"
            )
    urls: list[tuple[str, Any]] = []
    if isinstance(raw.get("redis"), dict):
        for role, url in (raw["redis"].get("urls") or {}).items():
            urls.append((f"redis.urls.{role}", url))
        urls.append(("redis.plaintext_url", raw["redis"].get("plaintext_url")))
    if isinstance(raw.get("prefect"), dict):
        for name in ("api_url", "ui_url"):
            urls.append((f"prefect.{name}", raw["prefect"].get(name)))
    for key, url in urls:
        if isinstance(url, str) and "@" in url and urlsplit(url).password:
            raise TargetsError(
                f"{path}: {key}: a password in the URL is an inline secret; expected the URL without it "
                "and the password as <section>.password_file or <section>.password_env"
            )


def _validation_message(path: Path, exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        section = error["loc"][0] if len(error["loc"]) > 1 else None
        model = TargetsFile.model_fields[str(section)].annotation if section in TargetsFile.model_fields else None
        fields = (
            model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else TargetsFile.model_fields
        )
        expected = f"unknown key; expected one of: {', '.join(fields)}"
    elif kind == "literal_error":
        expected = f"expected {error['ctx']['expected']}"
    else:
        expected = error["msg"][0].lower() + error["msg"][1:]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {loc}: {expected}{more}"


def load_targets_file(path: Path) -> TargetsFile:
    from readiness.profile import load_yaml

    try:
        raw = load_yaml(path.read_text())
    except OSError as exc:
        raise TargetsError(f"{path}: cannot read the targets file: {exc.strerror}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise TargetsError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TargetsError(f"{path}: (top level): expected a mapping with keys kubernetes, prefect, edge, ...")
    _inline_secret_refusals(path, raw)
    try:
        return TargetsFile.model_validate(raw)
    except ValidationError as exc:
        raise TargetsError(_validation_message(path, exc)) from None


def _read_secret(
    key: str, path: Path, file_ref: str | None, env_ref: str | None, environ: Mapping[str, str]
) -> Resolved | None:
    if file_ref:
        secret_path = (path.parent / Path(file_ref).expanduser()).resolve()
        try:
            value = secret_path.read_text().strip()
        except OSError as exc:
            raise TargetsError(f"{path}: {key}_file: cannot read {secret_path}: {exc.strerror}") from None
        return Resolved(value, f"targets file {path} ({key}_file {secret_path})", secret=True)
    if env_ref:
        if env_ref not in environ:
            raise TargetsError(f"{path}: {key}_env: the environment variable {env_ref} is not set")
        return Resolved(environ[env_ref], f"targets file {path} ({key}_env {env_ref})", secret=True)
    return None


def _file_layer(path: Path, environ: Mapping[str, str]) -> dict[str, Resolved]:
    data = load_targets_file(path)
    source = f"targets file {path}"
    out: dict[str, Resolved] = {}
    if data.ca_bundle:
        out["ca_bundle"] = Resolved(str((path.parent / data.ca_bundle).resolve()), source)
    for section in TargetsFile.model_fields:
        model = getattr(data, section)
        if not isinstance(model, _Section):
            continue
        values = model.model_dump(exclude_none=True)
        for name, value in values.items():
            if name.endswith(("_file", "_env")) and f"{section}.{name.rsplit('_', 1)[0]}" in SECRETS:
                continue
            key = f"{section}.{name}"
            if key in _PATH_KEYS and value != "in-cluster":
                value = str((path.parent / Path(value).expanduser()).resolve())
            out[key] = Resolved(value, source)
    for key, (section, field) in SECRETS.items():
        body = getattr(data, section)
        resolved = _read_secret(key, path, getattr(body, f"{field}_file"), getattr(body, f"{field}_env"), environ)
        if resolved is not None:
            out[key] = resolved
    return out


# -- layer 2: the ecosystem's conventions ---------------------------------------------------------
def _prefect_profile_settings(environ: Mapping[str, str]) -> tuple[dict[str, str], str]:
    home = Path(environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    path = Path(environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    if not path.is_file():
        return {}, ""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}, ""
    active = environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    settings = data.get("profiles", {}).get(active, {})
    return {k: str(v) for k, v in settings.items()}, f"Prefect profile {active} ({path})"


def _pgpass(
    environ: Mapping[str, str], host: str | None, port: str | None, db: str | None, user: str | None
) -> Resolved | None:
    path = Path(environ.get("PGPASSFILE", Path.home() / ".pgpass")).expanduser()
    if "PGPASSFILE" not in environ or not path.is_file():
        return None
    wanted = [host or "localhost", str(port or 5432), db or "*", user or "*"]
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.replace("\\:", "\0").split(":")
        if len(fields) != 5:
            continue
        fields = [f.replace("\0", ":") for f in fields]
        if all(f == "*" or w == "*" or f == w for f, w in zip(fields[:4], wanted, strict=True)):
            return Resolved(fields[4], f"PGPASSFILE {path}", secret=True)
    return None


def _split_url_password(url: str) -> tuple[str, str | None, str | None]:
    """(url without credentials' password, username, password)."""
    parts = urlsplit(url)
    if not parts.password:
        return url, parts.username and unquote(parts.username), None
    user = unquote(parts.username) if parts.username else None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    if user:
        netloc = f"{user}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), user, unquote(parts.password)


def _convention_layer(environ: Mapping[str, str], kube_context: str | None) -> dict[str, Resolved]:
    out: dict[str, Resolved] = {}

    def env(key: str, name: str, secret: bool = False) -> None:
        if environ.get(name) and key not in out:
            out[key] = Resolved(environ[name], f"environment {name}", secret)

    for name in ("READINESS_CA_BUNDLE", "PREFECT_API_SSL_CERT_FILE", "SSL_CERT_FILE"):
        env("ca_bundle", name)
    # Kubernetes: kubectl's order: --context, KUBECONFIG, ~/.kube/config, in-cluster.
    if kube_context:
        out["kubernetes.context"] = Resolved(kube_context, "--kube-context")
    if environ.get("KUBECONFIG"):
        first = environ["KUBECONFIG"].split(os.pathsep)[0]
        out["kubernetes.kubeconfig"] = Resolved(first, "environment KUBECONFIG")
    elif (Path.home() / ".kube" / "config").is_file():
        out["kubernetes.kubeconfig"] = Resolved(str(Path.home() / ".kube" / "config"), "default ~/.kube/config")
    elif environ.get("KUBERNETES_SERVICE_HOST"):
        out["kubernetes.kubeconfig"] = Resolved("in-cluster", "in-cluster service account")
    # Prefect: the environment, else the active profile, as the Prefect client does.
    names = {"prefect.api_url": "PREFECT_API_URL", "prefect.api_key": "PREFECT_API_KEY",
             "prefect.auth_string": "PREFECT_API_AUTH_STRING"}  # fmt: skip
    settings, profile_source = ({}, "") if environ.get("PREFECT_API_URL") else _prefect_profile_settings(environ)
    for key, name in names.items():
        secret = key in SECRETS
        if environ.get(name):
            out[key] = Resolved(environ[name], f"environment {name}", secret)
        elif settings.get(name):
            out[key] = Resolved(settings[name], profile_source, secret)
    if "prefect.api_url" in out:
        out["prefect.api_url"] = Resolved(str(out["prefect.api_url"].value).rstrip("/"), out["prefect.api_url"].source)
    # libpq
    for key, name in (("postgres.host", "PGHOST"), ("postgres.hostaddr", "PGHOSTADDR"), ("postgres.port", "PGPORT"),
                      ("postgres.user", "PGUSER"), ("postgres.dbname", "PGDATABASE"), ("postgres.sslmode", "PGSSLMODE"),
                      ("postgres.sslrootcert", "PGSSLROOTCERT")):  # fmt: skip
        env(key, name)
    if "postgres.port" in out:
        out["postgres.port"] = Resolved(int(out["postgres.port"].value), out["postgres.port"].source)
    env("postgres.password", "PGPASSWORD", secret=True)
    if "postgres.password" not in out:
        from_passfile = _pgpass(
            environ,
            *(str(out[k].value) if k in out else None for k in ("postgres.host", "postgres.port", "postgres.dbname")),
            str(out["postgres.user"].value) if "postgres.user" in out else None,
        )
        if from_passfile is not None:
            out["postgres.password"] = from_passfile
    # Redis
    if environ.get("REDIS_URL"):
        url, user, password = _split_url_password(environ["REDIS_URL"])
        out["redis.urls"] = Resolved({"default": url}, "environment REDIS_URL")
        if user and user != "default":
            out["redis.username"] = Resolved(user, "environment REDIS_URL")
        if password:
            out["redis.password"] = Resolved(password, "environment REDIS_URL", secret=True)
    # Cloud SDKs' default chains: the region/project/subscription they would use.
    env("cloud.region", "AWS_REGION")
    env("cloud.region", "AWS_DEFAULT_REGION")
    env("cloud.endpoint_url", "AWS_ENDPOINT_URL")
    env("cloud.project", "GOOGLE_CLOUD_PROJECT")
    env("cloud.project", "CLOUDSDK_CORE_PROJECT")
    env("cloud.subscription", "AZURE_SUBSCRIPTION_ID")
    return out


def _derived(values: Mapping[str, Resolved]) -> dict[str, Resolved]:
    """Values that follow from others: the public hosts from the URLs."""
    out: dict[str, Resolved] = {}
    for url_key, host_key, port_key in (("prefect.api_url", "edge.api_host", "edge.port"),
                                        ("prefect.ui_url", "edge.ui_host", None)):  # fmt: skip
        if url_key in values:
            parts = urlsplit(str(values[url_key].value))
            if parts.hostname:
                out[host_key] = Resolved(parts.hostname, f"host of {url_key}")
            if port_key and parts.scheme == "https" and parts.port:
                out[port_key] = Resolved(parts.port, f"port of {url_key}")
    return out


# -- the resolved model --------------------------------------------------------------------------
Discoverer = Callable[["Targets"], tuple[dict[str, Resolved], list[str]]]


class Targets:
    """The resolved targets. Discovery (layer 3) runs on the first request for a key no layer above knew."""

    def __init__(
        self,
        values: Mapping[str, Resolved],
        *,
        file: Path | None = None,
        discoverer: Discoverer | None = None,
    ) -> None:
        self._values = dict(values)
        self.file = file
        self._discoverer = discoverer
        self._discovered = discoverer is None
        #: what discovery said about what it could not learn (a Secret holds it, the cluster is unreachable)
        self.notes: list[str] = []

    # -- lookups ---------------------------------------------------------------------------------
    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        assert self._discoverer is not None
        found, notes = self._discoverer(self)
        self.notes.extend(notes)
        for key, value in found.items():
            if key not in self._values or self._values[key].source == "default":
                self._values[key] = value
        for key, value in _derived(self._values).items():
            self._values.setdefault(key, value)

    def resolved(self, key: str) -> Resolved | None:
        if key not in self._values or self._values[key].source == "default":
            self._discover()
        return self._values.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        found = self.resolved(key)
        return default if found is None else found.value

    def source(self, key: str) -> str:
        found = self.resolved(key)
        return found.source if found else "not configured"

    def require(self, key: str) -> Any:
        """The value of `key`, or skip the check: `target not configured: <what to set>`."""
        found = self.resolved(key)
        if found is None or found.value in (None, "", {}, []):
            import pytest

            pytest.skip(self.missing(key))
        return found.value

    def missing(self, key: str) -> str:
        hint = HINTS.get(key)
        where = f"set {key} in the targets file (--targets / {TARGETS_ENV})"
        if hint:
            where += f" or {hint}"
        why = [n for n in self.notes if key.split(".")[0] in n or key in n]
        return f"target not configured: {key}; {where}" + (f" ({'; '.join(why)})" if why else "")

    def ca_bundle(self, section: str | None = None) -> str | None:
        if section:
            own = self.get(f"{section}.ca_bundle") or (
                self.get("postgres.sslrootcert") if section == "postgres" else None
            )
            if own:
                return str(own)
        value = self.get("ca_bundle")
        return str(value) if value else None

    def evidence(self, *keys: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key in keys:
            found = self.resolved(key)
            out[key] = (
                {"value": found.shown(), "source": found.source}
                if found
                else {"value": None, "source": "not configured"}
            )
        return out

    def secrets(self) -> list[str]:
        return [str(v.value) for v in self._values.values() if v.secret and v.value]

    def items(self, discover: bool = True) -> Iterator[tuple[str, Resolved]]:
        if discover:
            self._discover()
        order = {k: i for i, k in enumerate(all_keys())}
        yield from sorted(self._values.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def resolve_targets(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    kube_context: str | None = None,
    discover: bool = True,
) -> Targets:
    """Resolve the three layers. `path` (else READINESS_TARGETS) names the targets file, if any."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(TARGETS_ENV):
        path = environ[TARGETS_ENV]
    file = Path(path).expanduser().resolve() if path else None
    if file is not None and not file.is_file():
        raise TargetsError(f"{file}: targets file not found")
    values: dict[str, Resolved] = {k: Resolved(v, "default") for k, v in DEFAULTS.items()}
    for layer in (_convention_layer(environ, kube_context), _file_layer(file, environ) if file else {}):
        values.update(layer)
    for key, value in _derived(values).items():
        values.setdefault(key, value)
    discoverer: Discoverer | None = None
    if discover:
        from readiness.discovery import discover_from_cluster

        discoverer = discover_from_cluster
    return Targets(values, file=file, discoverer=discoverer)


# -- compatibility for the Prefect probe ---------------------------------------------------------
@dataclass(frozen=True)
class PrefectTarget:
    api_url: str | None
    api_key: str | None
    auth_string: str | None
    source: str  # where the settings came from, for evidence

    @property
    def configured(self) -> bool:
        return bool(self.api_url)


def prefect_target(environ: Mapping[str, str] | None = None, targets: Targets | None = None) -> PrefectTarget:
    targets = targets or resolve_targets(environ=environ, discover=False)
    return PrefectTarget(
        api_url=targets.get("prefect.api_url"),
        api_key=targets.get("prefect.api_key"),
        auth_string=targets.get("prefect.auth_string"),
        source=targets.source("prefect.api_url"),
    )


def ca_bundle(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    for name in ("READINESS_CA_BUNDLE", "PREFECT_API_SSL_CERT_FILE", "SSL_CERT_FILE"):
        if environ.get(name):
            return environ[name]
    return None
