"""An install made with the prefect-helm charts, on the session sandbox: the user's values files are enough
for the data suites (no targets file), and discovery names the Secret the chart puts the database URL in.

The values files are what such a user keeps in Git: the sandbox's PostgreSQL and Redis as the chart's
externalDatabase and backgroundServices.messaging.redis, their passwords in existing Secrets (references,
never read) and exported the way libpq and redis-cli take them (PGPASSWORD, REDISCLI_AUTH).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from readiness.sandbox.services.common import LOOPBACK, POSTGRES_HOST, ca_bundle
from readiness.targets import resolve_targets
from tests.report_wording import report_problems
from tests.suite_run import ROOT, Verdicts, run_suites
from tests.verdict.test_data_verdicts import CONFORMANT, assert_outcomes

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: the namespace the chart-shaped server Deployment of the discovery test lives in (created and deleted here)
NAMESPACE = "readiness-helm-discovery"


def _user_env(sandbox, **extra: str) -> dict[str, str]:
    """A user's shell: nothing of the sandbox's targets file, only what they export."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG", "PG"))}
    env.pop("REDIS_URL", None)
    env["PREFECT_HOME"] = str(sandbox.ctx.root / "client-home")
    env.update(extra)
    return env


def _run(sandbox, env: dict[str, str], *suites: str, extra: tuple[str, ...] = ()) -> Verdicts:
    report_dir = Path(tempfile.mkdtemp(prefix="verdicts-helm-", dir=sandbox.ctx.root))
    verdicts = run_suites([ROOT / "suites" / s for s in suites], env=env, report_dir=report_dir, extra=extra)
    wording = report_problems({"results": list(verdicts.results.values())})
    assert not wording, "observed/expected not in words and units:\n" + "\n".join(wording)
    return verdicts


def test_the_values_files_alone_let_the_data_suites_run_and_pass(sandbox, tmp_path):
    ctx = sandbox.ctx
    server_values = tmp_path / "prefect-server-values.yaml"
    server_values.write_text(
        yaml.safe_dump(
            {
                "namespaceOverride": "prefect",
                "server": {"uiConfig": {"prefectUiApiUrl": "https://app.prefect.sandbox.test/api"}},
                "postgresql": {"enabled": False},
                "externalDatabase": {
                    "existingSecret": "prefect-server-database",
                    "host": POSTGRES_HOST,
                    "port": ctx.port("postgres"),
                    "name": "prefect",
                    "username": "prefect",
                    "passwordSecretKey": "password",
                },
                "backgroundServices": {
                    "runAsSeparateDeployment": True,
                    "messaging": {
                        "redis": {
                            "host": LOOPBACK,
                            "port": ctx.port("redis-tls"),
                            "ssl": True,
                            "existingSecret": "prefect-redis",
                            "existingSecretPasswordKey": "password",
                        }
                    },
                },
            },
            sort_keys=False,
        )
    )
    worker_values = tmp_path / "prefect-worker-values.yaml"
    worker_values.write_text(
        "worker:\n  apiConfig: selfHostedServer\n  selfHostedServerApiConfig:\n"
        "    apiUrl: http://prefect-server.prefect.svc.cluster.local:4200/api\n  config:\n    workPool: sandbox-pool\n"
    )
    env = _user_env(
        sandbox,
        PGPASSWORD=ctx.secret_path("postgres-prefect").read_text().strip(),
        PGHOSTADDR=LOOPBACK,  # the database's name is in the values; this machine reaches it on loopback
        PGSSLROOTCERT=str(ca_bundle(ctx)),
        REDISCLI_AUTH=ctx.secret_path("redis").read_text().strip(),
        READINESS_CA_BUNDLE=str(ca_bundle(ctx)),
    )
    helm = (f"--targets-from-helm={server_values}", f"--targets-from-helm={worker_values}")
    verdicts = _run(sandbox, env, "redis", "postgres", extra=helm)
    assert_outcomes(verdicts, CONFORMANT)
    assert verdicts.code == 0, verdicts.output[-3000:]
    observations = verdicts.results["REDIS-VERSION"]["checks"][0]["observations"]
    assert {o["evidence"]["role"] for o in observations} == {"messaging"}
    # where each value came from, as the user sees it: the values files, the exported passwords
    shown = subprocess.run(
        [sys.executable, "-m", "readiness", "targets", "--format", "json", *helm],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    values = json.loads(shown.stdout)["values"]
    assert values["postgres.host"] == {
        "value": POSTGRES_HOST, "source": f"helm values {server_values}: externalDatabase.host"
    }  # fmt: skip
    assert values["redis.urls"]["source"].startswith(f"helm values {server_values}: backgroundServices.messaging")
    assert values["prefect.work_pool"]["source"] == f"helm values {worker_values}: worker.config.workPool"
    assert values["postgres.password"] == {"value": "***", "source": "environment PGPASSWORD"}
    assert values["redis.password"] == {"value": "***", "source": "environment REDISCLI_AUTH"}
    for secret in (env["PGPASSWORD"], env["REDISCLI_AUTH"]):
        assert secret not in shown.stdout
        assert secret not in verdicts.output
        assert secret not in (verdicts.report_dir / "latest" / "conformance.json").read_text()


@pytest.fixture
def chart_shaped_server(sandbox) -> Iterator[Path]:
    """A server Deployment as the prefect-server chart renders it by default (the database URL from the
    Secret the chart writes, key connection-string) in a namespace of its own; a targets file that names only
    the kubeconfig and that namespace."""
    from kubernetes import client, config

    kubeconfig = sandbox.env()["KUBECONFIG"]
    api = config.new_client_from_config(config_file=kubeconfig)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    labels = {"app.kubernetes.io/name": "prefect-server", "app.kubernetes.io/instance": "prefect-server",
              "app.kubernetes.io/component": "server"}  # fmt: skip
    url = client.V1EnvVar(
        name="PREFECT_SERVER_DATABASE_CONNECTION_URL",
        value_from=client.V1EnvVarSource(
            secret_key_ref=client.V1SecretKeySelector(
                name="prefect-server-postgresql-connection", key="connection-string"
            )
        ),
    )
    container = client.V1Container(
        name="prefect-server",
        image="prefecthq/prefect:3-latest",
        env=[client.V1EnvVar(name="PREFECT_UI_API_URL", value="http://localhost:4200/api"), url],
    )
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="prefect-server", namespace=NAMESPACE, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=0,  # its objects are what discovery reads; nothing needs to run
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels), spec=client.V1PodSpec(containers=[container])
            ),
        ),
    )
    apps.create_namespaced_deployment(NAMESPACE, deployment)
    folder = Path(tempfile.mkdtemp(prefix="helm-discovery-", dir=sandbox.ctx.root))
    targets = folder / "targets.yaml"
    targets.write_text(yaml.safe_dump({"kubernetes": {"kubeconfig": kubeconfig, "namespace": NAMESPACE}}))
    try:
        yield targets
    finally:  # the Deployment at once (later tests list Deployments), then its namespace
        apps.delete_namespaced_deployment("prefect-server", NAMESPACE, grace_period_seconds=0)
        core.delete_namespace(NAMESPACE)
        api.close()


def test_discovery_names_the_secret_and_key_of_the_database_url_in_the_skip_reason(sandbox, chart_shaped_server):
    env = _user_env(sandbox)
    verdicts = _run(sandbox, env, "postgres", extra=(f"--targets={chart_shaped_server}",))
    expected = (
        "takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret prefect-server-postgresql-connection key "
        "connection-string, which discovery does not read; set postgres.host, postgres.port, postgres.user, "
        "postgres.dbname and postgres.password"
    )
    for requirement in ("PG-VERSION-MIN", "PG-TLS", "PG-CONNECTIONS"):
        result = verdicts.results[requirement]
        assert result["outcome"] == "skip", verdicts.explain(requirement)
        assert result["message"].startswith("target not configured: postgres.host"), result["message"]
        assert f"Deployment {NAMESPACE}/prefect-server {expected}" in result["message"], result["message"]
    # no host was guessed in the Secret's place
    targets = resolve_targets(chart_shaped_server, environ={})
    assert targets.get("postgres.host") is None
    assert any(expected in note for note in targets.notes)
