"""Targets from the user's prefect-helm values files (--targets-from-helm): what the charts' values name, each
value with `helm values FILE: key.path`, Secrets only as references, a bad file in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from readiness.targets import TargetsError, resolve_targets

HELM = Path(__file__).resolve().parents[1] / "fixtures" / "helm"
ROOT = Path(__file__).resolve().parents[2]


def helm(*names: str, environ: dict[str, str] | None = None, release: str | None = None, file: Path | None = None):
    return resolve_targets(
        file, environ=environ or {}, discover=False, helm_values=[HELM / n for n in names], helm_release=release
    )


def source(name: str, key: str) -> str:
    return f"helm values {HELM / name}: {key}"


def test_bundled_postgresql_and_redis_are_the_subcharts_services_of_the_release():
    targets = helm("server-bundled.yaml", release="prefect/prefect-server")
    assert targets.get("postgres.host") == "prefect-server-postgresql.prefect"
    assert targets.source("postgres.host").startswith(source("server-bundled.yaml", "postgresql.enabled"))
    assert targets.get("postgres.port") == 5432
    assert targets.get("postgres.dbname") == "prefect"
    assert targets.source("postgres.dbname") == source("server-bundled.yaml", "postgresql.auth.database")
    assert targets.get("postgres.user") == "prefect"
    assert targets.get("redis.urls") == {
        "messaging": "redis://prefect-server-redis-headless.prefect.svc.cluster.local:6379/0"
    }
    # the release's name is what the subcharts' objects are named after
    other = helm("server-bundled.yaml", release="data/prod")
    assert other.get("postgres.host") == "prod-postgresql.data"
    assert other.get("kubernetes.namespace") == "data"
    assert other.source("kubernetes.namespace") == "--helm-release data/prod"
    assert other.references["redis.password"].value == "Secret prod-redis key redis-password"
    # without --helm-release the charts' documented release name is assumed, and a note says so
    assumed = helm("server-bundled.yaml")
    assert assumed.get("postgres.host") == "prefect-server-postgresql.prefect"
    assert any("taken to be prefect-server in namespace prefect" in n for n in assumed.notes)


def test_existing_secrets_stay_references_named_in_the_skip_reason_and_never_become_values():
    targets = helm("server-bundled.yaml", "worker-selfhosted.yaml")
    assert targets.get("postgres.password") is None
    assert targets.get("redis.password") is None
    assert targets.get("prefect.auth_string") is None
    refs = {key: ref.value for key, ref in targets.references.items()}
    assert refs == {
        "postgres.password": "Secret prefect-db-credentials key password",
        "redis.password": "Secret prefect-server-redis key redis-password",
        "prefect.auth_string": "Secret prefect-basic-auth key auth-string",
    }
    assert targets.references["postgres.password"].source == source(
        "server-bundled.yaml", "postgresql.auth.existingSecret"
    )
    message = targets.missing("postgres.password")
    assert message.startswith("target not configured: postgres.password; set postgres.password in the targets file")
    assert "the install keeps it in Secret prefect-db-credentials key password, which is not read" in message
    assert targets.secrets() == []
    # a value given by the environment replaces the reference
    exported = helm("server-bundled.yaml", environ={"PGPASSWORD": "from-env"})
    assert exported.get("postgres.password") == "from-env"
    assert "postgres.password" not in exported.references


def test_external_database_fields_gateway_hosts_redis_and_namespace():
    targets = helm("server-external.yaml")
    assert targets.get("kubernetes.namespace") == "prefect-prod"
    assert targets.source("kubernetes.namespace") == source("server-external.yaml", "namespaceOverride")
    assert targets.get("postgres.host") == "prefect.c1x2y3.eu-west-1.rds.amazonaws.com"
    assert targets.source("postgres.host") == source("server-external.yaml", "externalDatabase.host")
    assert (targets.get("postgres.port"), targets.get("postgres.dbname"), targets.get("postgres.user")) == (
        5432, "prefect", "prefect_app"
    )  # fmt: skip
    assert targets.references["postgres.password"].value == "Secret prefect-db key password"
    assert targets.get("edge.api_host") == "api.prefect.example.com"
    assert targets.source("edge.api_host") == source("server-external.yaml", "httproute.hostnames") + "[1]"
    assert targets.get("edge.ui_host") == "app.prefect.example.com"
    assert targets.get("prefect.ui_api_url") == "https://app.prefect.example.com/api"
    assert targets.get("redis.urls") == {"messaging": "rediss://prefect.abc123.euw1.cache.amazonaws.com:6380/1"}
    assert targets.references["redis.password"].value == "Secret prefect-redis key auth-token"
    # nothing here names the release's objects: no assumption to note
    assert not [n for n in targets.notes if n.startswith("helm:")]


def test_a_connection_url_in_a_secret_names_the_secret_its_key_and_the_keys_to_set():
    targets = helm("server-connection-secret.yaml")
    assert targets.get("postgres.host") is None
    (note,) = [n for n in targets.notes if n.startswith("postgres:")]
    assert "takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret prefect-db-url key connection-string" in note
    assert "set postgres.host, postgres.port, postgres.user, postgres.dbname" in note
    assert note in targets.missing("postgres.host")


def test_the_worker_names_the_work_pool_and_a_public_api_url_but_not_its_in_cluster_one(tmp_path):
    targets = helm("worker-selfhosted.yaml")
    assert targets.get("prefect.work_pool") == "k8s-prod"
    assert targets.source("prefect.work_pool") == source("worker-selfhosted.yaml", "worker.config.workPool")
    # the worker's in-cluster URL is how a pod reaches the API, not this machine: a note, not a target
    assert targets.get("prefect.api_url") is None
    assert targets.get("edge.api_host") is None
    assert any(
        "worker.selfHostedServerApiConfig.apiUrl is the in-cluster address "
        "http://prefect-server.prefect.svc.cluster.local:4200/api"
        in note
        and "set PREFECT_API_URL" in note
        for note in targets.notes
    ), targets.notes
    public = tmp_path / "worker-public.yaml"
    public.write_text(
        "worker:\n  apiConfig: selfHostedServer\n  selfHostedServerApiConfig: {apiUrl: 'https://prefect.example.com/api/'}\n"
    )
    assert resolve_targets(environ={}, discover=False, helm_values=[public]).get("prefect.api_url") == (
        "https://prefect.example.com/api"
    )
    # the URL this machine uses wins over the values
    exported = helm("worker-selfhosted.yaml", environ={"PREFECT_API_URL": "https://prefect.example.com/api"})
    assert exported.get("prefect.api_url") == "https://prefect.example.com/api"
    assert exported.get("prefect.work_pool") == "k8s-prod"
    cloud = helm("worker-cloud.yaml")
    assert cloud.get("prefect.api_url") == (
        "https://api.prefect.cloud/api/accounts/0e1f2a3b-0000-4000-8000-000000000001"
        "/workspaces/0e1f2a3b-0000-4000-8000-000000000002"
    )
    assert cloud.references["prefect.api_key"].value == "Secret prefect-api-key key key"


def test_the_layer_sits_below_a_targets_file_and_above_the_conventions(tmp_path):
    file = tmp_path / "targets.yaml"
    file.write_text("postgres:\n  host: from-file.internal\n")
    targets = helm("server-external.yaml", environ={"PGHOST": "from-env", "PGSSLMODE": "verify-full"}, file=file)
    assert targets.get("postgres.host") == "from-file.internal"
    assert targets.get("postgres.user") == "prefect_app"  # helm, over nothing
    assert targets.get("postgres.sslmode") == "verify-full"  # a convention the values do not name
    assert helm("server-external.yaml", environ={"PGHOST": "from-env"}).get("postgres.host") == (
        "prefect.c1x2y3.eu-west-1.rds.amazonaws.com"
    )


def test_inline_secrets_in_values_are_used_as_secrets_and_later_files_win(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "postgresql:\n  auth:\n    password: inline-pw\n    database: prefect\n"
        "backgroundServices:\n  runAsSeparateDeployment: true\n"
        "  messaging:\n    redis:\n      host: redis.internal\n      password: inline-redis\n"
    )
    override = tmp_path / "prod.yaml"
    override.write_text("postgresql:\n  auth:\n    database: prefect_prod\n")
    targets = resolve_targets(environ={}, discover=False, helm_values=[base, override])
    assert targets.get("postgres.password") == "inline-pw"
    assert targets.evidence("postgres.password")["postgres.password"]["value"] == "***"
    assert sorted(targets.secrets()) == ["inline-pw", "inline-redis"]
    assert targets.get("postgres.dbname") == "prefect_prod"
    assert targets.source("postgres.dbname") == f"helm values {override}: postgresql.auth.database"
    assert targets.source("postgres.password") == f"helm values {base}: postgresql.auth.password"


def test_an_umbrella_charts_sections_and_the_chart_defaults(tmp_path):
    umbrella = tmp_path / "umbrella.yaml"
    umbrella.write_text(
        "prefect-server:\n  ingress:\n    enabled: true\n"
        "prefect-worker:\n  worker:\n    apiConfig: selfHostedServer\n"
        "    selfHostedServerApiConfig: {apiUrl: 'http://prefect-server:4200/api'}\n    config: {workPool: pool-a}\n"
    )
    targets = resolve_targets(environ={}, discover=False, helm_values=[umbrella])
    assert targets.get("edge.api_host") == "prefect.local"  # the chart's default ingress.host.hostname
    assert targets.source("edge.api_host") == (
        f"helm values {umbrella}: prefect-server.ingress.host.hostname (not set: the prefect-server chart's default)"
    )
    assert targets.get("prefect.work_pool") == "pool-a"
    assert targets.source("prefect.work_pool") == f"helm values {umbrella}: prefect-worker.worker.config.workPool"
    assert targets.get("postgres.dbname") == "server"  # postgresql.enabled and auth.database default


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "ingress.enabled: expected true or false, got a string"),  # server-wrong-type.yaml
        ("externalDatabase:\n  host: db\n  port: [5432]\n", "externalDatabase.port: expected a port number"),
        ("ingress:\n  enabled: true\n  extraHosts: [app.example.com]\n",
         "ingress.extraHosts[0]: expected a mapping with name: HOST, got a string"),
        ("server:\n  uiConfig: https://x/api\n", "server.uiConfig: expected a mapping (with key prefectUiApiUrl)"),
        ("worker:\n  apiConfig: server\n", "worker.apiConfig: expected one of cloud, customerManagedCloud"),
        ("externalDatabase:\n  host: db\n  passwordSecretKey: pw\n",
         "externalDatabase.existingSecret: expected the name of the Secret that holds the database settings, "
         "since externalDatabase.passwordSecretKey is set"),
        ("backgroundServices:\n  runAsSeparateDeployment: true\n",
         "backgroundServices.messaging.redis.host: expected a Redis host (or redis.enabled: true)"),
        ("nameOverride: x\n", "(top level): cannot tell which chart these values are for"),
        ("server: {}\nworker: {}\n", "(top level): expected the values of one chart"),
        ("- a\n", "(top level): expected a mapping of the chart's values, got a list"),
        ("server:\n  image: [1, 2\n", "line 3 not valid YAML"),
        ("", "helm values file not found"),  # "": no file at all
    ],
)  # fmt: skip
def test_a_bad_values_file_is_one_line_naming_the_file_the_key_and_what_was_expected(tmp_path, body, expected):
    path = HELM / "server-wrong-type.yaml"
    if body is not None:
        path = tmp_path / "values.yaml"
        if body:
            path.write_text(body)
    with pytest.raises(TargetsError) as info:
        resolve_targets(environ={}, discover=False, helm_values=[path])
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message and "\n" not in message


def test_a_bad_release_name_is_refused():
    with pytest.raises(TargetsError, match="--helm-release Prod_1: expected a release name or NAMESPACE/NAME"):
        helm("server-bundled.yaml", release="Prod_1")


def test_readiness_targets_shows_the_values_sources_and_the_references(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "readiness", "targets", "--no-discovery", "--format", "json",
         f"--targets-from-helm={HELM / 'server-bundled.yaml'}",
         "--targets-from-helm", str(HELM / "worker-selfhosted.yaml"),
         "--helm-release", "prefect/prefect-server"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)["values"]
    assert values["prefect.work_pool"] == {
        "value": "k8s-prod", "source": source("worker-selfhosted.yaml", "worker.config.workPool")
    }  # fmt: skip
    assert values["postgres.password"]["value"] is None
    assert values["postgres.password"]["reference"] == "Secret prefect-db-credentials key password"
    table = subprocess.run(
        [sys.executable, "-m", "readiness", "targets", "--no-discovery", "--targets-from-helm",
         str(HELM / "server-bundled.yaml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "Secret prefect-db-credentials key password (not read)" in table
    bad = subprocess.run(
        [sys.executable, "-m", "readiness", "targets", "--targets-from-helm", str(HELM / "server-wrong-type.yaml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 4
    assert bad.stderr.strip() == (
        f"readiness targets: error: {HELM / 'server-wrong-type.yaml'}: ingress.enabled: expected true or false, "
        "got a string"
    )


def test_server_env_overrides_the_charts_database_and_redis_settings_as_in_the_pod(tmp_path):
    values = tmp_path / "server.yaml"
    values.write_text(
        "postgresql:\n  enabled: true\n"  # superseded: server.env comes after the chart's own variables
        "global:\n  prefect:\n    env:\n"
        "      - {name: PREFECT_REDIS_MESSAGING_HOST, value: redis.global.internal}\n"
        "server:\n  env:\n"
        "    - name: PREFECT_SERVER_DATABASE_CONNECTION_URL\n"
        "      valueFrom: {secretKeyRef: {name: my-db, key: url}}\n"
        "    - {name: PREFECT_REDIS_MESSAGING_HOST, value: redis.internal}\n"
        "    - {name: PREFECT_REDIS_MESSAGING_PORT, value: '6380'}\n"
        "    - {name: PREFECT_REDIS_MESSAGING_SSL, value: 'true'}\n"
        "    - name: PREFECT_REDIS_MESSAGING_PASSWORD\n"
        "      valueFrom: {secretKeyRef: {name: my-redis, key: password}}\n"
    )
    targets = resolve_targets(environ={}, discover=False, helm_values=[values])
    assert targets.get("postgres.host") is None  # no host guessed from the bundled subchart
    assert targets.references["postgres.password"].value == "Secret my-db key url"
    assert any("takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret my-db key url" in n for n in targets.notes)
    assert targets.get("redis.urls") == {"messaging": "rediss://redis.internal:6380/0"}
    assert targets.source("redis.urls") == f"helm values {values}: server.env[1] (PREFECT_REDIS_MESSAGING_HOST)"
    assert targets.references["redis.password"].value == "Secret my-redis key password"
    values.write_text(
        "server:\n  env:\n    - {name: PREFECT_SERVER_DATABASE_CONNECTION_URL, value: 'postgresql+asyncpg://u@db.internal:5433/p'}\n"
    )
    targets = resolve_targets(environ={}, discover=False, helm_values=[values])
    assert (targets.get("postgres.host"), targets.get("postgres.port"), targets.get("postgres.user")) == (
        "db.internal", 5433, "u"
    )  # fmt: skip
    values.write_text("server:\n  env:\n    - PREFECT_API_URL=http://x\n")
    with pytest.raises(TargetsError, match=r"server.yaml: server.env\[0\]: expected a mapping with name and value"):
        resolve_targets(environ={}, discover=False, helm_values=[values])
