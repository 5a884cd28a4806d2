"""Where the install lives: one model every suite reads, resolved once, each value remembering its source.

The profile says WHAT is expected; the targets say WHERE each part of the install is. Values are
resolved in this order, the first that knows a key wins:

1. a targets file (``--targets FILE.yaml`` or ``READINESS_TARGETS``). Secrets appear there only as
   references (``password_file:`` / ``password_env:``); an inline secret is refused.
   Below it, the user's prefect-helm values files (``--targets-from-helm VALUES.yaml``, repeatable, with
   ``--helm-release [NAMESPACE/]NAME``; ``readiness.targets.helm``): what the charts' values say about the
   namespace, hosts, database, Redis and work pool, each from ``helm values FILE: key.path``. A value the
   chart takes from an existing Secret stays a reference (``Secret NAME key KEY``), never read. The Prefect
   API's URL and credentials from the worker's values are how a pod reaches the API: they stay below 2;
2. the ecosystem's own conventions: kubeconfig / ``KUBECONFIG`` / ``--kube-context``, ``PREFECT_API_URL``
   with ``PREFECT_API_KEY`` or ``PREFECT_API_AUTH_STRING`` (or the active Prefect profile), libpq's ``PG*``
   variables and ``PGPASSFILE``, ``REDIS_URL``, the cloud SDKs' region/project/subscription variables;
3. read-only discovery from the cluster (``readiness.targets.discovery``): the Prefect server Deployment's
   environment, Ingress hosts and the load balancer address. Secrets are never read: a value only a
   Secret holds stays unknown, and the check that needs it skips, naming the key to set.

Checks read values through the session fixture ``targets`` (:class:`Targets`): ``get``, ``require``
(skips with ``target not configured: ...``), ``source`` and ``evidence``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TARGETS_ENV = "READINESS_TARGETS"
SHOWN_SECRET = "***"


class TargetsError(Exception):
    """A targets file is invalid; the message is one line: file, key, what was expected."""


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
    "redis.password": "REDIS_URL's password or REDISCLI_AUTH",
    "edge.api_host": "the host of prefect.api_url, or discovery from the Ingress",
    "edge.ui_host": "the host of prefect.ui_url, or discovery from the Ingress",
    "edge.lb_address": "discovery from the ingress controller's LoadBalancer Service",
    "prefect.ui_url": "discovery (PREFECT_UI_URL of the Prefect server Deployment, or the Ingress)",
    "cloud.region": "AWS_REGION / AWS_DEFAULT_REGION, or the kubeconfig context a cloud CLI wrote",
    "cloud.cluster": "the kubeconfig context that aws eks update-kubeconfig or gcloud get-credentials wrote",
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
    from readiness.targets.schema import TargetsFile, _Section

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


def edge_hosts(hosts: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """edge.api_host / edge.ui_host from the (host, source) pairs an Ingress or HTTPRoute serves: a host whose
    first label is `api` or `prefect-api` is the API's, another the UI's; a single host serves both."""
    found: dict[str, tuple[str, str]] = {}
    for host, source in hosts:
        key = "edge.api_host" if host.split(".")[0] in ("api", "prefect-api") else "edge.ui_host"
        found.setdefault(key, (host, source))
    if len(hosts) == 1:
        found.setdefault("edge.api_host", hosts[0])
        found.setdefault("edge.ui_host", hosts[0])
    return found


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
        references: Mapping[str, Resolved] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self._values = dict(values)
        #: key -> where the install keeps a value this run does not read ("Secret NAME key KEY", with its source)
        self.references = dict(references or {})
        self.file = file
        self._discoverer = discoverer
        self._discovered = discoverer is None
        #: what discovery said about what it could not learn (a Secret holds it, the cluster is unreachable)
        self.notes: list[str] = list(notes or [])

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
        reference = self.references.get(key)
        if reference is not None:
            why.insert(0, f"{reference.source}: the install keeps it in {reference.value}, which is not read")
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

    def known(self) -> dict[str, Any]:
        """The values resolved so far, secrets left out, without starting discovery: what a report may name."""
        return {
            key: found.value
            for key, found in self._values.items()
            if not found.secret and found.value not in (None, "", [], {})
        }

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


def __getattr__(name: str) -> Any:
    """The file's shape (TargetsFile and its sections) moved to readiness.targets.schema; kept here by name."""
    if not name.startswith("__"):
        from readiness.targets import schema

        if hasattr(schema, name):
            return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
