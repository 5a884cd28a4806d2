"""Where the install lives, from the ecosystem's own conventions (never from the profile).

Prefect: PREFECT_API_URL with PREFECT_API_KEY (Bearer) or PREFECT_API_AUTH_STRING (Basic), falling
back to the active profile in $PREFECT_HOME/profiles.toml, as the Prefect client does.
TLS trust: READINESS_CA_BUNDLE, else Prefect's PREFECT_API_SSL_CERT_FILE, else SSL_CERT_FILE, else the
system store.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PrefectTarget:
    api_url: str | None
    api_key: str | None
    auth_string: str | None
    source: str  # where the settings came from, for evidence

    @property
    def configured(self) -> bool:
        return bool(self.api_url)


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
    return {k: str(v) for k, v in settings.items()}, f"{path} (profile {active})"


def prefect_target(environ: Mapping[str, str] | None = None) -> PrefectTarget:
    environ = os.environ if environ is None else environ
    keys = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")
    if environ.get("PREFECT_API_URL"):
        values, source = {k: environ.get(k) for k in keys}, "environment"
    else:
        settings, source = _prefect_profile_settings(environ)
        values = {k: environ.get(k) or settings.get(k) for k in keys}
        source = source or "not configured"
    url = values["PREFECT_API_URL"]
    return PrefectTarget(
        api_url=url.rstrip("/") if url else None,
        api_key=values["PREFECT_API_KEY"] or None,
        auth_string=values["PREFECT_API_AUTH_STRING"] or None,
        source=source,
    )


def ca_bundle(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    for name in ("READINESS_CA_BUNDLE", "PREFECT_API_SSL_CERT_FILE", "SSL_CERT_FILE"):
        if environ.get(name):
            return environ[name]
    return None
