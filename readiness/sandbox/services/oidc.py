"""The OIDC identity provider (``oidc_server``): discovery, JWKS, a test user with a password, an HTML
login form, the authorization-code flow with PKCE and the password grant; TLS from the sandbox CA.

Registered client: ``prefect-readiness`` (confidential, secret in the state folder) with redirect URI
``https://app.<domain>/auth/callback``. The provider also serves an Okta-shaped tenant (issuer
``<base>/oauth2/default``) and an ADFS-shaped one (``<base>/adfs``): point ``oidc.issuer`` and
``oidc.preset`` at them to test those presets.

Scenarios, each rendered into the files the provider reads for every request:
``sso-wrong-client`` (the client ID is registered under another ID, so both flows answer
``invalid_client``), ``sso-wrong-password`` (the test user's password was changed at the IdP),
``sso-clock-skew`` (the IdP's clock runs ten minutes ahead), ``sso-no-pkce`` (discovery no longer
advertises PKCE S256), ``sso-broken-discovery`` (an HTML error page where the discovery document should be).
"""

from __future__ import annotations

import json
import ssl
import sys
import uuid
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from readiness.sandbox.base import Component, ComponentStatus, wait_until
from readiness.sandbox.services.common import APP_HOST, DOMAIN, LOOPBACK, SSO_HOST, ca_bundle, cert_paths

CLIENT_ID = "prefect-readiness"
WRONG_CLIENT_ID = "prefect-readiness-other"
USERNAME = "readiness-user"
REDIRECT_URI = f"https://{APP_HOST}/auth/callback"
CLOCK_SKEW_S = 600


class OidcComponent(Component):
    name = "oidc"
    after = ("pki",)
    scenarios = {
        "sso-wrong-client": f"the IdP rejects client ID {CLIENT_ID!r} (registered under another ID)",
        "sso-wrong-password": "the test user's password was changed at the IdP",
        "sso-clock-skew": f"the IdP's clock runs {CLOCK_SKEW_S // 60} minutes ahead",
        "sso-no-pkce": "the discovery document does not advertise PKCE S256",
        "sso-broken-discovery": "an HTML error page is served where the discovery document should be",
    }

    @property
    def port(self) -> int:
        return self.ctx.port("oidc")

    @property
    def issuer(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def dir(self) -> Path:
        return self.ctx.data_dir("oidc")

    def _signing_key(self) -> Path:
        path = self.dir / "signing-key.pem"
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            path.chmod(0o600)
        return path

    def _write_files(self) -> Path:
        sub = str(self.ctx.get("oidc_sub") or uuid.uuid4())
        self.ctx.set("oidc_sub", sub)
        active = self.ctx.active_scenarios()
        password = self.ctx.secret("oidc-user")
        if "sso-wrong-password" in active:
            password = "changed-" + password[::-1]
        users = {
            USERNAME: {
                "password": password,
                "sub": sub,
                "email": f"{USERNAME}@{DOMAIN}",
                "name": "Readiness Test User",
            }
        }
        client_id = WRONG_CLIENT_ID if "sso-wrong-client" in active else CLIENT_ID
        clients = {client_id: {"secret": self.ctx.secret("oidc-client"), "redirect_uris": [REDIRECT_URI]}}
        mode = {
            "clock_skew_s": CLOCK_SKEW_S if "sso-clock-skew" in active else 0,
            "pkce_advertised": "sso-no-pkce" not in active,
            "discovery": "html" if "sso-broken-discovery" in active else "json",
        }
        for name, data in (("users.json", users), ("clients.json", clients), ("mode.json", mode)):
            path = self.dir / name
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2))
            tmp.chmod(0o600)
            tmp.replace(path)
        _, chain, key = cert_paths(self.ctx, "services")
        config = {
            "issuer": self.issuer,
            "port": self.port,
            "cert": str(chain),
            "key": str(key),
            "signing_key": str(self._signing_key()),
            "users_file": str(self.dir / "users.json"),
            "clients_file": str(self.dir / "clients.json"),
            "mode_file": str(self.dir / "mode.json"),
        }
        path = self.dir / "oidc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _serving(self) -> bool:
        try:
            context = ssl.create_default_context(cafile=str(ca_bundle(self.ctx)))
            resp = httpx.get(f"{self.issuer}/jwks", verify=context, timeout=2)
            return resp.status_code == 200 and bool(resp.json().get("keys"))
        except (httpx.HTTPError, ValueError):
            return False

    def up(self) -> None:
        config = self._write_files()
        if self.ctx.is_running("oidc") and self._serving():
            return
        self.ctx.stop("oidc")
        self.ctx.spawn("oidc", [sys.executable, "-m", "readiness.sandbox.services.oidc_server", config])
        wait_until(self._serving, 30, "OIDC provider discovery", self.ctx.log_path("oidc"))

    def down(self) -> None:
        self.ctx.stop("oidc")

    def status(self) -> ComponentStatus:
        ok = self.ctx.is_running("oidc") and self._serving()
        return ComponentStatus(self.name, ok, f"issuer {self.issuer}", [self.ctx.process_status("oidc")])

    def targets(self) -> dict[str, object]:
        return {
            "oidc": {
                "preset": "oidc",
                "issuer": self.issuer,
                "client_id": CLIENT_ID,
                "client_secret_file": str(self.ctx.secret_path("oidc-client")),
                "redirect_uri": REDIRECT_URI,
                "username": USERNAME,
                "password_file": str(self.ctx.secret_path("oidc-user")),
            }
        }

    def env(self) -> dict[str, str]:
        return {
            "READINESS_OIDC_ISSUER": self.issuer,
            "READINESS_OIDC_HOST": SSO_HOST,
            "READINESS_OIDC_CLIENT_ID": CLIENT_ID,
            "READINESS_OIDC_CLIENT_SECRET_FILE": str(self.ctx.secret_path("oidc-client")),
            "READINESS_OIDC_REDIRECT_URI": REDIRECT_URI,
            "READINESS_OIDC_USERNAME": USERNAME,
            "READINESS_OIDC_PASSWORD_FILE": str(self.ctx.secret_path("oidc-user")),
            "READINESS_OIDC_CA_BUNDLE": str(ca_bundle(self.ctx)),
        }

    def reconfigure(self) -> None:
        self._write_files()
