"""A small OpenID Connect provider for the sandbox (Starlette + uvicorn, TLS from the sandbox CA).

    python -m readiness.sandbox.services.oidc_server CONFIG_JSON

Three tenants on one port, each shaped like a provider Prefect Self-Managed supports, with its own issuer:

- ``/`` plain OIDC: ``/.well-known/openid-configuration``, ``/jwks``, ``/authorize``, ``/token``, ``/userinfo``;
- ``/oauth2/default`` an Okta custom authorization server: ``/v1/authorize``, ``/v1/token``, ``/v1/keys``,
  ``/v1/userinfo``, an identifier-first login page, ``ver``/``groups`` claims;
- ``/adfs`` ADFS: ``/adfs/oauth2/authorize/``, ``/adfs/oauth2/token/``, ``/adfs/discovery/keys``, its
  ``#userNameInput``/``#passwordInput`` form and ``upn``/``unique_name`` claims.

Each does the authorization-code flow (PKCE S256 required for public clients) through an HTML login form,
and the password grant (client_secret_basic or client_secret_post). Tokens are RS256 JWTs signed with a
key kept in the state folder, so the JWKS stays the same across restarts.

CONFIG_JSON: issuer (of the plain tenant), port, cert, key, signing_key, users_file (JSON {username:
{password, sub, email, name}}), clients_file (JSON {client_id: {secret, redirect_uris}}), mode_file (JSON
{"clock_skew_s": seconds the provider's clock is off, "pkce_advertised": bool, "discovery": "json"|"html"}).
The files are read on every request, so a scenario changes the running provider in place.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import sys
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

TOKEN_TTL = 3600
CODE_TTL = 120
ADFS_PASSWORD_METHOD = "urn:oasis:names:tc:SAML:1.0:am:password"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class Tenant:
    """One provider shape: its path under the server, endpoint paths and what its pages and tokens look like."""

    flavor: str  # oidc | okta | adfs
    prefix: str
    authorize: str
    token: str
    jwks: str
    userinfo: str
    pkce_methods: tuple[str, ...] = ("S256",)

    def issuer(self, base: str) -> str:
        return base + self.prefix


TENANTS = (
    Tenant("oidc", "", "/authorize", "/token", "/jwks", "/userinfo"),
    Tenant("okta", "/oauth2/default", "/v1/authorize", "/v1/token", "/v1/keys", "/v1/userinfo"),
    Tenant("adfs", "/adfs", "/oauth2/authorize/", "/oauth2/token/", "/discovery/keys", "/userinfo", ("plain", "S256")),
)


class Provider:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.base: str = cfg["issuer"].rstrip("/")
        self.users_file = Path(cfg["users_file"])
        self.clients_file = Path(cfg["clients_file"])
        self.mode_file = Path(cfg["mode_file"]) if cfg.get("mode_file") else None
        key = serialization.load_pem_private_key(Path(cfg["signing_key"]).read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key = key
        numbers = key.public_key().public_numbers()
        self.kid = _b64(hashlib.sha256(_int_b64(numbers.n).encode()).digest()[:12])
        self.jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": _int_b64(numbers.n)}
        self.jwk["e"] = _int_b64(numbers.e)
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}

    # -- data ----------------------------------------------------------------------------------
    def users(self) -> dict[str, dict[str, str]]:
        return json.loads(self.users_file.read_text())

    def user(self, tenant: Tenant, username: str) -> dict[str, str] | None:
        """The user signing in; ADFS knows its users by UPN (user@domain), the others by user name."""
        users = self.users()
        if tenant.flavor == "adfs":
            found = [(name, u) for name, u in users.items() if u["email"].lower() == username.lower()]
        else:
            found = [(username, users[username])] if username in users else []
        return {**found[0][1], "username": found[0][0]} if found else None

    def clients(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.clients_file.read_text())

    def mode(self) -> dict[str, Any]:
        if self.mode_file is None:
            return {}
        try:
            return json.loads(self.mode_file.read_text())
        except (OSError, ValueError):
            return {}

    def now(self) -> float:
        """The provider's clock: ours, shifted by the clock-skew scenario."""
        return time.time() + float(self.mode().get("clock_skew_s", 0))

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def tokens(
        self, tenant: Tenant, user: dict[str, str], client_id: str, scope: str, nonce: str | None
    ) -> dict[str, Any]:
        now = int(self.now())
        base = {"iss": tenant.issuer(self.base), "sub": user["sub"], "iat": now, "exp": now + TOKEN_TTL}
        id_claims: dict[str, Any] = {**base, "aud": client_id, "auth_time": now}
        if tenant.flavor == "adfs":  # ADFS names the user by UPN, not e-mail
            id_claims.update({"upn": user["email"], "unique_name": f"SANDBOX\\{user['username']}", "ver": "1.0"})
            id_claims.update(
                {"appid": client_id, "apptype": "Confidential", "authmethod": "urn:oasis:names:tc:SAML:1.0:am:password"}
            )
        else:
            id_claims.update({"email": user["email"], "email_verified": True, "name": user["name"]})
        if tenant.flavor == "okta":
            id_claims.update({"ver": 1, "preferred_username": user["email"], "groups": ["Everyone", "prefect-users"]})
        if nonce:
            id_claims["nonce"] = nonce
        access = self.sign(
            {**base, "aud": client_id, "scope": scope, "client_id": client_id, "jti": secrets.token_hex(8)}
        )
        self.access_tokens[access] = {"user": user, "exp": now + TOKEN_TTL, "scope": scope}
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
            "id_token": self.sign(id_claims),
            "scope": scope,
        }


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _form_page(tenant: Tenant, action: str, params: dict[str, str], message: str = "", username: str = "") -> str:
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    if tenant.flavor == "adfs":
        note = f'<span id="errorText" role="alert">{html.escape(message)}</span>' if message else ""
        fields = """<input id="userNameInput" name="UserName" type="email" placeholder="someone@example.com">
<input id="passwordInput" name="Password" type="password" autocomplete="off">
<button id="submitButton" type="submit">Sign in</button>"""
        title = "Sign In - AD FS (prefect-readiness sandbox)"
    elif tenant.flavor == "okta" and not username:  # identifier first, then the password
        note = f'<div class="o-form-error-container" role="alert">{html.escape(message)}</div>' if message else ""
        fields = """<label>Username <input name="identifier" autocomplete="username"></label>
<input type="submit" value="Next">"""
        title = "Sign In - Okta (prefect-readiness sandbox)"
    elif tenant.flavor == "okta":
        note = f'<div class="o-form-error-container" role="alert">{html.escape(message)}</div>' if message else ""
        fields = f"""<input type="hidden" name="identifier" value="{html.escape(username)}">
<p>{html.escape(username)}</p>
<label>Password <input name="credentials.passcode" type="password" autocomplete="current-password"></label>
<input type="submit" value="Verify">"""
        title = "Sign In - Okta (prefect-readiness sandbox)"
    else:
        note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        fields = """<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>"""
        title = "Sign in - prefect-readiness sandbox IdP"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>Sign in</h1>{note}
<form method="post" action="{html.escape(action)}">
{hidden}
{fields}
</form></main></body></html>"""


def _credentials(form: dict[str, str]) -> tuple[str, str | None]:
    """(username, password or None) from any tenant's login form."""
    username = form.get("username") or form.get("UserName") or form.get("identifier") or ""
    password = form.get("password", form.get("Password", form.get("credentials.passcode")))
    return username, password


def tenant_routes(provider: Provider, tenant: Tenant) -> list[Route]:
    prefix = tenant.prefix

    def issuer() -> str:
        return tenant.issuer(provider.base)

    async def discovery(request: Request) -> Response:
        mode = provider.mode()
        if mode.get("discovery") == "html":  # a proxy's error page where the document should be
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>")
        iss = issuer()
        document: dict[str, Any] = {
            "issuer": iss,
            "authorization_endpoint": f"{iss}{tenant.authorize}",
            "token_endpoint": f"{iss}{tenant.token}",
            "userinfo_endpoint": f"{iss}{tenant.userinfo}",
            "jwks_uri": f"{iss}{tenant.jwks}",
            "response_types_supported": ["code", "id_token", "code id_token"] if tenant.flavor != "oidc" else ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token", "password"],
            "subject_types_supported": ["pairwise"] if tenant.flavor == "adfs" else ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "name"],
        }
        if mode.get("pkce_advertised", True):
            document["code_challenge_methods_supported"] = list(tenant.pkce_methods)
        if tenant.flavor == "adfs":
            host = urlsplit(provider.base).netloc
            document["access_token_issuer"] = f"http://{host}/adfs/services/trust"
            document["claims_supported"] += ["upn", "unique_name"]
        if tenant.flavor == "okta":
            document["claims_supported"] += ["groups", "preferred_username", "ver"]
        return JSONResponse(document)

    async def jwks(request: Request) -> Response:
        return JSONResponse({"keys": [provider.jwk]})

    def _check_auth_request(params: dict[str, str]) -> str | None:
        client = provider.clients().get(params.get("client_id", ""))
        if client is None:
            return "invalid_client: unknown client_id"
        if params.get("redirect_uri") not in client.get("redirect_uris", []):
            return "invalid_request: redirect_uri is not registered for this client"
        if params.get("response_type") != "code":
            return "unsupported_response_type: only code is supported"
        if "openid" not in params.get("scope", "").split():
            return "invalid_scope: openid is required"
        if params.get("code_challenge_method", "S256") not in tenant.pkce_methods:
            return "invalid_request: unsupported code challenge method"
        if not client.get("secret") and not params.get("code_challenge"):
            return "invalid_request: PKCE is required for public clients"
        return None

    auth_keys = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge")
    auth_keys += ("code_challenge_method",)
    action = f"{prefix}{tenant.authorize}"

    def rejected(problem: str) -> HTMLResponse:
        return HTMLResponse(f"<h1>Sign-in request rejected</h1><p>{html.escape(problem)}</p>", 400)

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            params = {k: v for k, v in request.query_params.items() if k in auth_keys}
            problem = _check_auth_request(params)
            return rejected(problem) if problem else HTMLResponse(_form_page(tenant, action, params))
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(), keep_blank_values=True).items()}
        params = {k: v for k, v in form.items() if k in auth_keys}
        problem = _check_auth_request(params)
        if problem:
            return rejected(problem)
        username, password = _credentials(form)
        if password is None:  # the identifier step of an identifier-first page
            return HTMLResponse(_form_page(tenant, action, params, username=username))
        user = provider.user(tenant, username)
        if user is None or not secrets.compare_digest(user["password"], password):
            wrong = "Incorrect user ID or password. Type the correct user ID and password, and try again."
            if tenant.flavor == "okta":
                wrong = "Unable to sign in"
            elif tenant.flavor == "oidc":
                wrong = "Wrong username or password."
            return HTMLResponse(_form_page(tenant, action, params, wrong), 401)
        code = secrets.token_urlsafe(24)
        provider.codes[code] = {"user": user, "params": params, "exp": time.time() + CODE_TTL, "tenant": tenant}
        parts = urlsplit(params["redirect_uri"])
        query = {"code": code}
        if params.get("state"):
            query["state"] = params["state"]
        sep = "&" if parts.query else ""
        location = urlunsplit(parts._replace(query=parts.query + sep + urlencode(query)))
        return RedirectResponse(location, status_code=302)

    def _client_auth(request: Request, form: dict[str, str]) -> tuple[str, dict[str, Any]] | JSONResponse:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        client = provider.clients().get(client_id)
        if client is None:
            return _error(401, "invalid_client", "unknown client_id")
        if client.get("secret") and not secrets.compare_digest(client["secret"], secret or ""):
            return _error(401, "invalid_client", "client authentication failed")
        return client_id, client

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        auth = _client_auth(request, form)
        if isinstance(auth, JSONResponse):
            return auth
        client_id, client = auth
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = provider.codes.pop(form.get("code", ""), None)
            if entry is None or entry["exp"] < time.time() or entry["tenant"] is not tenant:
                return _error(400, "invalid_grant", "unknown or expired code")
            params = entry["params"]
            if params["client_id"] != client_id or params["redirect_uri"] != form.get("redirect_uri"):
                return _error(400, "invalid_grant", "code was issued to another client or redirect_uri")
            challenge = params.get("code_challenge")
            if challenge:
                verifier = form.get("code_verifier", "")
                computed = verifier
                if params.get("code_challenge_method", "S256") == "S256":
                    computed = _b64(hashlib.sha256(verifier.encode()).digest())
                if computed != challenge:
                    return _error(400, "invalid_grant", "PKCE verification failed")
            return JSONResponse(
                provider.tokens(tenant, entry["user"], client_id, params.get("scope", "openid"), params.get("nonce"))
            )
        if grant == "password":
            user = provider.user(tenant, form.get("username", ""))
            if user is None or not secrets.compare_digest(user["password"], form.get("password", "")):
                description = "wrong username or password"
                if tenant.flavor == "adfs":
                    description = "MSIS9659: Invalid 'username' or 'password'."
                elif tenant.flavor == "okta":
                    description = "The credentials provided were invalid."
                return _error(400, "invalid_grant", description)
            return JSONResponse(provider.tokens(tenant, user, client_id, form.get("scope", "openid"), None))
        return _error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")

    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        entry = provider.access_tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        if entry is None or entry["exp"] < provider.now():
            return JSONResponse({"error": "invalid_token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        user = entry["user"]
        return JSONResponse({"sub": user["sub"], "email": user["email"], "email_verified": True, "name": user["name"]})

    return [
        Route(f"{prefix}/.well-known/openid-configuration", discovery),
        Route(f"{prefix}{tenant.jwks}", jwks),
        Route(f"{prefix}{tenant.authorize}", authorize, methods=["GET", "POST"]),
        Route(f"{prefix}{tenant.token}", token, methods=["POST"]),
        Route(f"{prefix}{tenant.userinfo}", userinfo, methods=["GET", "POST"]),
    ]


def build_app(provider: Provider) -> Any:
    routes = [route for tenant in TENANTS for route in tenant_routes(provider, tenant)]
    app = Starlette(routes=routes)

    async def with_provider_date(scope: Any, receive: Any, send: Any) -> None:
        # The provider's own clock in its Date header (uvicorn's is turned off), as a skewed IdP sends it.
        async def send_with_date(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(provider.now(), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date)]}
            await send(message)

        await app(scope, receive, send_with_date if scope["type"] == "http" else send)

    return with_provider_date


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    cfg = json.loads(Path(args[0]).read_text())
    app = build_app(Provider(cfg))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(cfg["port"]),
        ssl_certfile=cfg["cert"],
        ssl_keyfile=cfg["key"],
        log_level="warning",
        date_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
