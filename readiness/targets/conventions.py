"""Layer 2 of the targets: the ecosystem's own conventions.

kubeconfig, PREFECT_API_* and the active Prefect profile, libpq's PG* and PGPASSFILE, REDIS_URL and REDISCLI_AUTH,
the cloud SDKs' region/project/subscription variables and the CA bundle variables.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from readiness.targets.model import SECRETS, Resolved


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
    env("redis.password", "REDISCLI_AUTH", secret=True)  # redis-cli's own variable for the password
    # Cloud SDKs' default chains: the region/project/subscription they would use.
    env("cloud.region", "AWS_REGION")
    env("cloud.region", "AWS_DEFAULT_REGION")
    env("cloud.endpoint_url", "AWS_ENDPOINT_URL")
    env("cloud.project", "GOOGLE_CLOUD_PROJECT")
    env("cloud.project", "CLOUDSDK_CORE_PROJECT")
    env("cloud.subscription", "AZURE_SUBSCRIPTION_ID")
    if "kubernetes.kubeconfig" in out and out["kubernetes.kubeconfig"].value != "in-cluster":
        for key, value in _cluster_from_kubeconfig(str(out["kubernetes.kubeconfig"].value), kube_context).items():
            out.setdefault(key, value)
    return out


#: the context names the clouds' own CLIs write (`aws eks update-kubeconfig`, `gcloud container clusters
#: get-credentials`): they name the cluster, its region and the GCP project, which a remediation names
_EKS_CONTEXT = re.compile(r"^arn:aws[\w-]*:eks:(?P<region>[a-z0-9-]+):\d+:cluster/(?P<cluster>[\w.-]+)$")
_GKE_CONTEXT = re.compile(r"^gke_(?P<project>[a-z0-9-]+)_(?P<region>[a-z0-9-]+)_(?P<cluster>[a-z0-9-]+)$")


def _cluster_from_kubeconfig(path: str, context: str | None) -> dict[str, Resolved]:
    """cloud.cluster, cloud.region (and cloud.project) from the kubeconfig context's name, when a cloud CLI wrote it."""
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    name = context or (config.get("current-context") if isinstance(config, dict) else None)
    match = _EKS_CONTEXT.match(str(name or "")) or _GKE_CONTEXT.match(str(name or ""))
    if match is None:
        return {}
    source = f"kubeconfig context {name}"
    return {f"cloud.{k}": Resolved(v, source) for k, v in match.groupdict().items()}


def ca_bundle(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    for name in ("READINESS_CA_BUNDLE", "PREFECT_API_SSL_CERT_FILE", "SSL_CERT_FILE"):
        if environ.get(name):
            return environ[name]
    return None
