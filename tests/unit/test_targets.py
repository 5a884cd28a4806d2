"""Targets: the three layers (file, conventions, discovery), their precedence, secrets by reference only."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from readiness.targets import Resolved, Targets, TargetsError, resolve_targets
from readiness.targets.discovery import _from_server_env


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_file_values_carry_the_file_as_source_and_paths_resolve_beside_it(tmp_path):
    (tmp_path / "pg-password").write_text("s3cret\n")
    file = write(
        tmp_path / "targets.yaml",
        "ca_bundle: ca.pem\npostgres:\n  host: db.example.com\n  port: 5433\n  password_file: pg-password\n"
        "  sslrootcert: certs/root.pem\nredis:\n  urls: {messaging: 'rediss://r.example.com:6380/0'}\n",
    )
    targets = resolve_targets(file, environ={}, discover=False)
    assert targets.get("postgres.host") == "db.example.com"
    assert targets.get("postgres.port") == 5433
    assert targets.source("postgres.host") == f"targets file {file}"
    assert targets.get("postgres.password") == "s3cret"
    assert "postgres.password_file" in targets.source("postgres.password")
    assert targets.get("postgres.sslrootcert") == str(tmp_path / "certs" / "root.pem")
    assert targets.ca_bundle("postgres") == str(tmp_path / "certs" / "root.pem")
    assert targets.ca_bundle("redis") == str(tmp_path / "ca.pem")
    assert targets.get("redis.urls") == {"messaging": "rediss://r.example.com:6380/0"}
    assert targets.evidence("postgres.password")["postgres.password"]["value"] == "***"
    assert targets.secrets() == ["s3cret"]


@pytest.mark.parametrize(
    "body, key",
    [
        ("redis:\n  password: hunter2\n", "redis.password"),
        ("prefect:\n  api_key: pnu_123\n", "prefect.api_key"),
        ("oidc:\n  client_secret: abc\n", "oidc.client_secret"),
        ("redis:\n  urls: {messaging: 'redis://:hunter2@r:6379/0'}\n", "redis.urls.messaging"),
    ],
)
def test_an_inline_secret_is_refused_with_one_line_naming_file_and_key(tmp_path, body, key):
    file = write(tmp_path / "t.yaml", body)
    with pytest.raises(TargetsError) as info:
        resolve_targets(file, environ={}, discover=False)
    message = str(info.value)
    assert message.startswith(f"{file}: {key}: ")
    assert "hunter2" not in message and "pnu_123" not in message and "\n" not in message


def test_a_wrong_key_names_the_file_the_key_and_what_was_expected(tmp_path):
    file = write(tmp_path / "t.yaml", "postgres:\n  hostname: db\n")
    with pytest.raises(TargetsError, match=r"t.yaml: postgres.hostname: unknown key; expected one of: host, "):
        resolve_targets(file, environ={}, discover=False)
    file = write(tmp_path / "t.yaml", "edge:\n  port: https\n")
    with pytest.raises(TargetsError, match=r"t.yaml: edge.port: "):
        resolve_targets(file, environ={}, discover=False)


def test_a_secret_reference_to_a_missing_variable_is_refused(tmp_path):
    file = write(tmp_path / "t.yaml", "smtp:\n  password_env: SMTP_PW\n")
    with pytest.raises(TargetsError, match="smtp.password_env: the environment variable SMTP_PW is not set"):
        resolve_targets(file, environ={}, discover=False)
    targets = resolve_targets(file, environ={"SMTP_PW": "x1"}, discover=False)
    assert targets.get("smtp.password") == "x1"


def test_conventions_libpq_redis_prefect_kubeconfig_and_cloud(tmp_path):
    passfile = write(tmp_path / "pgpass", "db.internal:5432:prefect:prefect:from-passfile\n")
    environ = {
        "PGHOST": "db.internal",
        "PGPORT": "5432",
        "PGUSER": "prefect",
        "PGDATABASE": "prefect",
        "PGSSLMODE": "verify-full",
        "PGPASSFILE": str(passfile),
        "REDIS_URL": "rediss://app:r3dis@redis.internal:6380/0",
        "PREFECT_API_URL": "https://prefect.example.com/api/",
        "PREFECT_API_KEY": "pnu_key",
        "KUBECONFIG": f"{tmp_path / 'a'}:{tmp_path / 'b'}",
        "AWS_REGION": "eu-west-1",
    }
    targets = resolve_targets(environ=environ, kube_context="prod", discover=False)
    assert targets.get("postgres.port") == 5432
    assert targets.source("postgres.host") == "environment PGHOST"
    assert targets.get("postgres.password") == "from-passfile"
    assert targets.get("redis.urls") == {"default": "rediss://app@redis.internal:6380/0"}
    assert targets.get("redis.password") == "r3dis"
    assert targets.get("redis.username") == "app"
    assert targets.get("prefect.api_url") == "https://prefect.example.com/api"
    assert targets.get("edge.api_host") == "prefect.example.com"
    assert targets.source("edge.api_host") == "host of prefect.api_url"
    assert targets.get("kubernetes.kubeconfig") == str(tmp_path / "a")
    assert targets.get("kubernetes.context") == "prod"
    assert targets.source("kubernetes.context") == "--kube-context"
    assert targets.get("cloud.region") == "eu-west-1"
    assert set(targets.secrets()) == {"from-passfile", "r3dis", "pnu_key"}


def test_the_active_prefect_profile_is_used_when_the_environment_is_silent(tmp_path):
    write(
        tmp_path / "profiles.toml",
        'active = "sm"\n[profiles.sm]\nPREFECT_API_URL = "https://p.example.com/api"\n'
        'PREFECT_API_AUTH_STRING = "a:b"\n',
    )
    targets = resolve_targets(environ={"PREFECT_HOME": str(tmp_path)}, discover=False)
    assert targets.get("prefect.api_url") == "https://p.example.com/api"
    assert targets.get("prefect.auth_string") == "a:b"
    assert targets.source("prefect.api_url").startswith("Prefect profile sm")


def test_precedence_file_over_conventions_over_discovery_over_defaults(tmp_path):
    file = write(tmp_path / "t.yaml", "postgres:\n  host: from-file\n")
    asked: list[str] = []

    def discoverer(targets: Targets) -> tuple[dict[str, Resolved], list[str]]:
        asked.append("yes")
        found = {
            "postgres.host": Resolved("from-cluster", "discovered: x"),
            "postgres.port": Resolved(5432, "discovered: x"),
            "postgres.user": Resolved("from-cluster", "discovered: x"),
            "edge.port": Resolved(8443, "discovered: x"),
            "edge.lb_address": Resolved("203.0.113.10", "discovered: lb"),
        }
        return found, [
            "postgres: Deployment prefect/prefect-server takes PREFECT_SERVER_DATABASE_PASSWORD "
            "from Secret db key password"
        ]

    values = resolve_targets(file, environ={"PGUSER": "from-env"}, discover=False)._values
    targets = Targets(values, file=file, discoverer=discoverer)
    assert targets.get("postgres.host") == "from-file"
    assert targets.get("postgres.user") == "from-env"
    assert asked == []  # nothing asked the cluster yet: every key so far was known
    assert targets.get("postgres.port") == 5432
    assert targets.source("postgres.port") == "discovered: x"
    assert targets.get("edge.lb_address") == "203.0.113.10"
    assert targets.get("edge.port") == 8443  # what the cluster says beats a default
    assert targets.get("kubernetes.namespace") == "prefect"
    assert targets.source("kubernetes.namespace") == "default"
    assert asked == ["yes"]  # discovery runs once


def test_a_value_only_a_secret_holds_stays_unknown_and_the_check_says_which_key_to_set():
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="prefect-server", namespace="prefect"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(),
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="server",
                            env=[
                                client.V1EnvVar(name="PREFECT_SERVER_DATABASE_HOST", value="db.internal"),
                                client.V1EnvVar(name="PREFECT_SERVER_DATABASE_PORT", value="5432"),
                                client.V1EnvVar(
                                    name="PREFECT_SERVER_DATABASE_PASSWORD",
                                    value_from=client.V1EnvVarSource(
                                        secret_key_ref=client.V1SecretKeySelector(name="db", key="password")
                                    ),
                                ),
                                client.V1EnvVar(name="PREFECT_REDIS_MESSAGING_HOST", value="redis.internal"),
                                client.V1EnvVar(name="PREFECT_REDIS_MESSAGING_PORT", value="6380"),
                                client.V1EnvVar(name="PREFECT_REDIS_MESSAGING_SSL", value="true"),
                            ],
                        )
                    ]
                )
            ),
        ),
    )
    found, notes = _from_server_env(deployment)
    assert found["postgres.host"].value == "db.internal"
    assert found["postgres.port"].value == 5432
    assert found["postgres.host"].source == (
        "discovered: Deployment prefect/prefect-server env PREFECT_SERVER_DATABASE_HOST"
    )
    assert found["redis.urls"].value == {"messaging": "rediss://redis.internal:6380/0"}
    assert "postgres.password" not in found
    targets = Targets(found, discoverer=lambda t: ({}, notes))
    with pytest.raises(pytest.skip.Exception) as info:
        targets.require("postgres.password")
    reason = str(info.value.msg)
    assert reason.startswith("target not configured: postgres.password; set postgres.password in the targets file")
    assert "from Secret db key password" in reason


def test_no_targets_file_found_is_one_line(tmp_path):
    with pytest.raises(TargetsError, match=r"nope.yaml: targets file not found"):
        resolve_targets(tmp_path / "nope.yaml", environ={}, discover=False)


def _chart_deployment(*env: client.V1EnvVar) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="prefect-server", namespace="prefect"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(),
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(containers=[client.V1Container(name="prefect-server", env=list(env))])
            ),
        ),
    )


def _from_secret(name: str, secret: str, key: str) -> client.V1EnvVar:
    ref = client.V1SecretKeySelector(name=secret, key=key)
    return client.V1EnvVar(name=name, value_from=client.V1EnvVarSource(secret_key_ref=ref))


def test_a_connection_url_in_a_secret_is_named_with_its_key_and_no_host_is_guessed():
    # the prefect-server chart's default: the whole URL from the Secret it writes
    deployment = _chart_deployment(
        _from_secret(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL", "prefect-server-postgresql-connection", "connection-string"
        )
    )
    found, notes = _from_server_env(deployment)
    assert not [key for key in found if key.startswith("postgres.")]
    assert notes == [
        "postgres: Deployment prefect/prefect-server takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret "
        "prefect-server-postgresql-connection key connection-string, which discovery does not read; set "
        "postgres.host, postgres.port, postgres.user, postgres.dbname and postgres.password (the targets file, "
        "PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD, or --targets-from-helm)"
    ]
    with pytest.raises(pytest.skip.Exception) as info:
        Targets(found, discoverer=lambda t: ({}, notes)).require("postgres.host")
    expected = "takes PREFECT_SERVER_DATABASE_CONNECTION_URL from Secret prefect-server-postgresql-connection key "
    assert expected + "connection-string" in str(info.value.msg)


def test_a_url_composed_from_variables_takes_the_literal_parts_only():
    # the chart's externalDatabase fields: host from a Secret key, the rest literal, the URL made of $(VAR)s
    deployment = _chart_deployment(
        client.V1EnvVar(name="PREFECT_SERVER_DATABASE_DRIVER", value="postgresql+asyncpg"),
        client.V1EnvVar(name="PREFECT_SERVER_DATABASE_USER", value="prefect_app"),
        _from_secret("PREFECT_SERVER_DATABASE_PASSWORD", "prefect-db", "password"),
        _from_secret("PREFECT_SERVER_DATABASE_HOST", "prefect-db", "host"),
        client.V1EnvVar(name="PREFECT_SERVER_DATABASE_PORT", value="5432"),
        client.V1EnvVar(name="PREFECT_SERVER_DATABASE_NAME", value="prefect"),
        client.V1EnvVar(
            name="PREFECT_SERVER_DATABASE_CONNECTION_URL",
            value="$(PREFECT_SERVER_DATABASE_DRIVER)://$(PREFECT_SERVER_DATABASE_USER):$(PREFECT_SERVER_DATABASE_PASSWORD)"
            "@$(PREFECT_SERVER_DATABASE_HOST):$(PREFECT_SERVER_DATABASE_PORT)/$(PREFECT_SERVER_DATABASE_NAME)",
        ),
    )
    found, notes = _from_server_env(deployment)
    assert "postgres.host" not in found
    assert {k: found[k].value for k in ("postgres.port", "postgres.user", "postgres.dbname")} == {
        "postgres.port": 5432, "postgres.user": "prefect_app", "postgres.dbname": "prefect"
    }  # fmt: skip
    assert (
        "postgres: Deployment prefect/prefect-server takes PREFECT_SERVER_DATABASE_HOST from Secret prefect-db "
        "key host, which discovery does not read; set postgres.host"
    ) in notes
    assert any("PREFECT_SERVER_DATABASE_PASSWORD from Secret prefect-db key password" in n for n in notes)
    # a literal URL still gives its password-less parts
    plain = _chart_deployment(
        client.V1EnvVar(
            name="PREFECT_SERVER_DATABASE_CONNECTION_URL", value="postgresql+asyncpg://u:pw@db.internal:5433/p"
        )
    )
    found, _ = _from_server_env(plain)
    assert {k: v.value for k, v in found.items()} == {
        "postgres.host": "db.internal", "postgres.port": 5433, "postgres.dbname": "p", "postgres.user": "u"
    }  # fmt: skip


def test_redis_cli_s_password_variable_is_a_convention_below_redis_url():
    targets = resolve_targets(environ={"REDISCLI_AUTH": "from-cli-var"}, discover=False)
    assert targets.get("redis.password") == "from-cli-var"
    assert targets.source("redis.password") == "environment REDISCLI_AUTH"
    assert targets.secrets() == ["from-cli-var"]
    both = {"REDISCLI_AUTH": "from-cli-var", "REDIS_URL": "rediss://:from-url@r.internal:6380/0"}
    assert resolve_targets(environ=both, discover=False).get("redis.password") == "from-url"
