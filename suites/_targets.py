"""TEMPORARY: the `targets` fixture over the sandbox's READINESS_REDIS_* / READINESS_POSTGRES_* variables,
until readiness/targets.py's targets model lands (then this file goes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


def _file(var: str) -> str | None:
    path = os.environ.get(var)
    return Path(path).read_text().strip() if path and Path(path).is_file() else None


class EnvTargets:
    def __init__(self) -> None:
        env = os.environ
        values: dict[str, Any] = {}
        if env.get("READINESS_REDIS_TLS_URL"):
            url = env["READINESS_REDIS_TLS_URL"]
            values["redis.urls"] = {"messaging": url, "cache": url}
            values["redis.username"] = env.get("READINESS_REDIS_USERNAME")
            values["redis.password"] = _file("READINESS_REDIS_PASSWORD_FILE")
            values["redis.ca_bundle"] = env.get("READINESS_REDIS_CA_BUNDLE")
            values["redis.plaintext_url"] = env.get("READINESS_REDIS_PLAINTEXT_URL")
        if env.get("READINESS_POSTGRES_HOST"):
            values.update(
                {
                    "postgres.host": env["READINESS_POSTGRES_HOST"],
                    "postgres.hostaddr": env.get("READINESS_POSTGRES_HOSTADDR"),
                    "postgres.port": int(env.get("READINESS_POSTGRES_PORT", "5432")),
                    "postgres.user": env.get("READINESS_POSTGRES_USER"),
                    "postgres.dbname": env.get("READINESS_POSTGRES_DATABASE"),
                    "postgres.password": _file("READINESS_POSTGRES_PASSWORD_FILE"),
                    "postgres.sslmode": env.get("READINESS_POSTGRES_SSLMODE"),
                    "postgres.sslrootcert": env.get("READINESS_CA_BUNDLE"),
                }
            )
        cloud = ("provider", "region", "project", "subscription", "resource_group", "redis", "postgres", "endpoint_url")
        for key in (f"cloud.{name}" for name in cloud):
            var = "READINESS_" + key.upper().replace(".", "_")
            if env.get(var):
                values[key] = env[var]
        self.values = {k: v for k, v in values.items() if v is not None}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def require(self, key: str) -> Any:
        if key not in self.values:
            pytest.skip(f"target not configured: {key}; set {key} in the targets file")
        return self.values[key]

    def source(self, key: str) -> str:
        return "environment (sandbox)" if key in self.values else "default"

    def evidence(self, *keys: str) -> dict[str, Any]:
        return {
            k: {"value": "***" if k.endswith("password") else self.values.get(k), "source": self.source(k)}
            for k in keys
        }

    def ca_bundle(self, section: str) -> str | None:
        return self.values.get(f"{section}.ca_bundle") or os.environ.get("READINESS_CA_BUNDLE")


@pytest.fixture(scope="session")
def targets() -> EnvTargets:
    return EnvTargets()
