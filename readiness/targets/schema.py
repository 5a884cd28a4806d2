"""The targets file's shape, as pydantic models: only reading a targets file (and listing its keys) needs
them, so a run without one does not import pydantic (readiness.targets.model holds the resolved targets)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
