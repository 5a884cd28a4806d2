"""A small OpenID Connect provider for the sandbox (Starlette + uvicorn, TLS from the sandbox CA).

    python -m readiness.sandbox.services.oidc_server CONFIG_JSON

Endpoints: ``/.well-known/openid-configuration``, ``/jwks``, ``/authorize`` (an HTML login form;
authorization-code flow, PKCE S256 required for public clients), ``/token`` (authorization_code and
password grants; client_secret_basic or client_secret_post), ``/userinfo``. Tokens are RS256 JWTs signed
with a key kept in the state folder, so the JWKS stays the same across restarts.

CONFIG_JSON: issuer, port, cert, key, signing_key, users_file (JSON {username: {password, sub, email,
name}}), clients_file (JSON {client_id: {secret, redirect_uris}}). Both files are read on every request,
so a scenario changes the registered client in place.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import sys
import time
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Provider:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.issuer: str = cfg["issuer"].rstrip("/")
        self.users_file = Path(cfg["users_file"])
        self.clients_file = Path(cfg["clients_file"])
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

    def clients(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.clients_file.read_text())

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def tokens(self, user: dict[str, str], client_id: str, scope: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "sub": user["sub"], "iat": now, "exp": now + TOKEN_TTL}
        id_claims = {**base, "aud": client_id, "auth_time": now, "email": user["email"], "name": user["name"]}
        id_claims["email_verified"] = True
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


def _form_page(params: dict[str, str], message: str = "") -> str:
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - prefect-readiness sandbox IdP</title></head>
<body><main><h1>Sign in</h1>{note}
<form method="post" action="/authorize">
{hidden}
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></main></body></html>"""


def build_app(provider: Provider) -> Starlette:
    async def discovery(request: Request) -> Response:
        iss = provider.issuer
        return JSONResponse(
            {
                "issuer": iss,
                "authorization_endpoint": f"{iss}/authorize",
                "token_endpoint": f"{iss}/token",
                "userinfo_endpoint": f"{iss}/userinfo",
                "jwks_uri": f"{iss}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "password"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "email",
                    "email_verified",
                    "name",
                    "nonce",
                ],
            }
        )

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
        if params.get("code_challenge_method", "S256") != "S256":
            return "invalid_request: only S256 code challenges are supported"
        if not client.get("secret") and not params.get("code_challenge"):
            return "invalid_request: PKCE is required for public clients"
        return None

    auth_keys = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge")
    auth_keys += ("code_challenge_method",)

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            params = {k: v for k, v in request.query_params.items() if k in auth_keys}
            problem = _check_auth_request(params)
            if problem:
                return HTMLResponse(f"<h1>Sign-in request rejected</h1><p>{html.escape(problem)}</p>", 400)
            return HTMLResponse(_form_page(params))
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        params = {k: v for k, v in form.items() if k in auth_keys}
        problem = _check_auth_request(params)
        if problem:
            return HTMLResponse(f"<h1>Sign-in request rejected</h1><p>{html.escape(problem)}</p>", 400)
        user = provider.users().get(form.get("username", ""))
        if user is None or not secrets.compare_digest(user["password"], form.get("password", "")):
            return HTMLResponse(_form_page(params, "Wrong username or password."), 401)
        code = secrets.token_urlsafe(24)
        provider.codes[code] = {"user": user, "params": params, "exp": time.time() + CODE_TTL}
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
            if entry is None or entry["exp"] < time.time():
                return _error(400, "invalid_grant", "unknown or expired code")
            params = entry["params"]
            if params["client_id"] != client_id or params["redirect_uri"] != form.get("redirect_uri"):
                return _error(400, "invalid_grant", "code was issued to another client or redirect_uri")
            challenge = params.get("code_challenge")
            if challenge:
                verifier = form.get("code_verifier", "")
                if _b64(hashlib.sha256(verifier.encode()).digest()) != challenge:
                    return _error(400, "invalid_grant", "PKCE verification failed")
            return JSONResponse(
                provider.tokens(entry["user"], client_id, params.get("scope", "openid"), params.get("nonce"))
            )
        if grant == "password":
            user = provider.users().get(form.get("username", ""))
            if user is None or not secrets.compare_digest(user["password"], form.get("password", "")):
                return _error(400, "invalid_grant", "wrong username or password")
            return JSONResponse(provider.tokens(user, client_id, form.get("scope", "openid"), None))
        return _error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")

    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        entry = provider.access_tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        if entry is None or entry["exp"] < time.time():
            return JSONResponse({"error": "invalid_token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        user = entry["user"]
        return JSONResponse({"sub": user["sub"], "email": user["email"], "email_verified": True, "name": user["name"]})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/userinfo", userinfo, methods=["GET", "POST"]),
        ]
    )


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
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
