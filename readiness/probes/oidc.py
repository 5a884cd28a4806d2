"""The OpenID Connect probe: discovery, signing keys, a real sign-in and the ID token it yields.

Presets name the shape of the identity provider Prefect Self-Managed supports (Okta, ADFS) or plain
OIDC: where the issuer lives, which claims carry the user's identity, and which fields its login page
uses. The login runs the authorization-code flow with PKCE (S256) through the provider's own login page
in a headless Chromium driven by Playwright, or the resource-owner password grant where the targets say
the provider allows it. The ID token is verified here (signature against the JWKS, issuer, audience,
expiry, nonce); the check states what it expects of the verified result.

Secrets (the test user's password, the client secret, the tokens) never leave this module: they are
registered with the redactor, never put in evidence, and the password field is emptied before any
screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import re
import secrets
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import httpx

from readiness.core.expect import CheckError, now_iso
from readiness.core.redact import default_redactor
from readiness.probes.browser import CHROMIUM, CHROMIUM_ARGS
from readiness.probes.errors import describe_connection_failure
from readiness.probes.http import describe_transport_error, response_evidence, tls_verify

LoginMethod = Literal["browser", "password"]

#: the fields a code-flow login needs from the discovery document (OpenID Connect Discovery 1.0, 3.)
REQUIRED_FIELDS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
ENDPOINT_FIELDS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint")


# -- presets -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """The shape of one kind of identity provider."""

    name: str
    #: what the issuer's path looks like (Okta: the org server "" or a custom one /oauth2/<id>; ADFS: /adfs)
    issuer_path: str
    issuer_shape: str
    #: claims Prefect maps to the user; each entry is satisfied by any one of its names
    identity_claims: tuple[tuple[str, ...], ...]
    username_fields: tuple[str, ...]
    password_fields: tuple[str, ...]
    submit_buttons: tuple[str, ...]
    error_texts: tuple[str, ...]


_GENERIC_USERNAME = (
    "input[autocomplete=username]",
    "input[name=username]",
    "input[name=identifier]",
    "input[type=email]",
)
_GENERIC_PASSWORD = ("input[type=password]",)
_GENERIC_SUBMIT = ("button[type=submit]", "input[type=submit]")
_GENERIC_ERRORS = ("[role=alert]", ".error", ".alert-error")

PRESETS: dict[str, Preset] = {
    "okta": Preset(
        name="okta",
        issuer_path=r"^(/oauth2/[A-Za-z0-9_-]+)?/?$",
        issuer_shape="https://<org>.okta.com or https://<org>.okta.com/oauth2/<authorization server>",
        identity_claims=(("sub",), ("email",)),
        username_fields=("input[name=identifier]", "#okta-signin-username", *_GENERIC_USERNAME),
        password_fields=("input[name='credentials.passcode']", "#okta-signin-password", *_GENERIC_PASSWORD),
        submit_buttons=("input[type=submit][value='Next']", "#okta-signin-submit", *_GENERIC_SUBMIT),
        error_texts=(".o-form-error-container", ".okta-form-infobox-error", *_GENERIC_ERRORS),
    ),
    "adfs": Preset(
        name="adfs",
        issuer_path=r"^/adfs/?$",
        issuer_shape="https://<federation service>/adfs",
        identity_claims=(("sub",), ("upn", "unique_name")),
        username_fields=("#userNameInput", *_GENERIC_USERNAME),
        password_fields=("#passwordInput", *_GENERIC_PASSWORD),
        submit_buttons=("#submitButton", *_GENERIC_SUBMIT),
        error_texts=("#errorText", "#error", *_GENERIC_ERRORS),
    ),
    "oidc": Preset(
        name="oidc",
        issuer_path=r".*",
        issuer_shape="any https URL",
        identity_claims=(("sub",), ("email",)),
        username_fields=_GENERIC_USERNAME,
        password_fields=_GENERIC_PASSWORD,
        submit_buttons=_GENERIC_SUBMIT,
        error_texts=_GENERIC_ERRORS,
    ),
}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise CheckError(f"unknown OIDC preset {name!r}; expected one of {', '.join(PRESETS)}") from None


# -- settings and results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OidcSettings:
    """Where the provider is and who signs in; built by the suite from the targets."""

    issuer: str
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    login: LoginMethod = "browser"
    preset: Preset = PRESETS["oidc"]
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        redactor = default_redactor()
        redactor.add(self.client_secret)
        redactor.add(self.password)

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Discovery:
    url: str
    issuer: str | None
    authorization_endpoint: str | None
    token_endpoint: str | None
    jwks_uri: str | None
    response_types: tuple[str, ...]
    grant_types: tuple[str, ...]
    code_challenge_methods: tuple[str, ...]
    signing_algorithms: tuple[str, ...]
    missing_fields: tuple[str, ...]
    #: endpoints whose URL is not https
    insecure_endpoints: tuple[str, ...]
    #: the provider's clock (its Date header) minus ours, seconds; None without a Date header
    clock_skew_s: float | None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def supports_code_flow(self) -> bool:
        return "code" in self.response_types and "authorization_code" in self.grant_types

    @property
    def supports_pkce_s256(self) -> bool:
        return "S256" in self.code_challenge_methods


@dataclass(frozen=True)
class SigningKey:
    kid: str | None
    kty: str
    alg: str | None
    bits: int | None


@dataclass(frozen=True)
class Jwks:
    url: str
    keys: tuple[SigningKey, ...]
    #: keys that can verify an ID token: use sig (or unset), a supported algorithm, RSA >= 2048 bits
    usable: tuple[SigningKey, ...]
    key_set: Any = field(default=None, repr=False)  # joserfc KeySet
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IdToken:
    """What verifying the ID token found; claim values only for the identity claims, never the token."""

    signature_valid: bool
    signature_error: str | None
    algorithm: str | None
    issuer: str | None
    audience: tuple[str, ...]
    expires_in_s: float | None
    #: True/False for the code flow; None for the password grant, which carries no nonce
    nonce_matches: bool | None
    claims: dict[str, Any]
    missing_claims: tuple[str, ...]
    #: the names of every claim in the token (values only for the identity claims, above)
    claim_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Login:
    method: LoginMethod
    signed_in: bool
    #: where the login stopped when it did not sign in, with the provider's own error text
    stopped_at: str | None
    idp_error: str | None
    id_token: IdToken | None
    screenshot: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


# -- helpers -----------------------------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64url(hashlib.sha256(verifier.encode()).digest())


def _clock_skew(response: httpx.Response, sent: float, received: float) -> float | None:
    date = response.headers.get("date")
    if not date:
        return None
    try:
        theirs = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return None
    # The Date header has one-second resolution and was stamped somewhere between send and receive.
    return round(theirs - (sent + received) / 2, 1)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _idp_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict) and body.get("error"):
        text = str(body["error"])
        if body.get("error_description"):
            text += f": {body['error_description']}"
        return text
    return f"HTTP {response.status_code}"


# -- the probe ---------------------------------------------------------------------------------------
class IdentityProvider:
    """One OIDC provider as a client registered with it sees it."""

    def __init__(self, settings: OidcSettings, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._verify = tls_verify(settings.ca_bundle)
        self._http = httpx.Client(timeout=timeout, verify=self._verify, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IdentityProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str) -> httpx.Response:
        try:
            return self._http.get(url)
        except httpx.HTTPError as exc:
            raise CheckError(describe_transport_error(exc, url)) from None

    def _post(self, url: str, data: Mapping[str, str], auth: tuple[str, str] | None) -> httpx.Response:
        try:
            return self._http.post(url, data=dict(data), auth=auth)
        except httpx.HTTPError as exc:
            raise CheckError(describe_transport_error(exc, url)) from None

    def _json(self, response: httpx.Response, what: str) -> Any:
        url = str(response.request.url)
        if response.status_code != 200:
            raise CheckError(f"{what} at {url} answered HTTP {response.status_code}: {response.text[:120]!r}")
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise CheckError(f"{what} at {url} is not JSON ({kind}): {response.text[:80]!r}") from None

    # -- discovery -----------------------------------------------------------------------------
    def discovery(self) -> Discovery:
        url = self.settings.discovery_url
        sent = time.time()
        response = self._get(url)
        received = time.time()
        document = self._json(response, "the discovery document")
        if not isinstance(document, dict):
            raise CheckError(f"the discovery document at {url} is JSON but not an object")
        grant_types = _strings(document.get("grant_types_supported")) or ("authorization_code", "implicit")
        insecure = tuple(
            f"{name} {document[name]}"
            for name in ENDPOINT_FIELDS
            if isinstance(document.get(name), str) and urlsplit(document[name]).scheme != "https"
        )
        issuer = document.get("issuer")
        return Discovery(
            url=url,
            issuer=str(issuer) if issuer is not None else None,
            authorization_endpoint=document.get("authorization_endpoint"),
            token_endpoint=document.get("token_endpoint"),
            jwks_uri=document.get("jwks_uri"),
            response_types=_strings(document.get("response_types_supported")),
            grant_types=grant_types,
            code_challenge_methods=_strings(document.get("code_challenge_methods_supported")),
            signing_algorithms=_strings(document.get("id_token_signing_alg_values_supported")),
            missing_fields=tuple(f for f in REQUIRED_FIELDS if not document.get(f)),
            insecure_endpoints=insecure,
            clock_skew_s=_clock_skew(response, sent, received),
            evidence={
                **response_evidence(response, body_limit=0),
                "date_header": response.headers.get("date"),
                "document": {k: document.get(k) for k in (*REQUIRED_FIELDS, "code_challenge_methods_supported")},
            },
        )

    def issuer_matches_preset(self, issuer: str | None = None) -> bool:
        path = urlsplit(issuer or self.settings.issuer).path
        return re.match(self.settings.preset.issuer_path, path) is not None

    def jwks(self, discovery: Discovery) -> Jwks:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        if not discovery.jwks_uri:
            raise CheckError(f"the discovery document at {discovery.url} names no jwks_uri")
        response = self._get(discovery.jwks_uri)
        data = self._json(response, "the JWKS")
        raw_keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(raw_keys, list):
            raise CheckError(f"the JWKS at {discovery.jwks_uri} has no `keys` list")
        keys: list[SigningKey] = []
        usable: list[SigningKey] = []
        importable: list[dict[str, Any]] = []
        algorithms = set(discovery.signing_algorithms) or {"RS256"}
        for raw in raw_keys:
            if not isinstance(raw, dict):
                continue
            bits = None
            if raw.get("kty") == "RSA" and isinstance(raw.get("n"), str):
                n = raw["n"] + "=" * (-len(raw["n"]) % 4)
                bits = int.from_bytes(base64.urlsafe_b64decode(n), "big").bit_length()
            elif raw.get("kty") == "EC":
                bits = {"P-256": 256, "P-384": 384, "P-521": 521}.get(str(raw.get("crv")))
            key = SigningKey(raw.get("kid"), str(raw.get("kty")), raw.get("alg"), bits)
            keys.append(key)
            signing = raw.get("use") in (None, "sig") and (key.alg is None or key.alg in algorithms)
            strong = key.kty == "EC" or (key.kty == "RSA" and (bits or 0) >= 2048)
            if signing and strong:
                usable.append(key)
                importable.append(raw)
        try:
            key_set = KeySet.import_key_set({"keys": importable}) if importable else None
        except (JoseError, ValueError, TypeError) as exc:
            raise CheckError(f"the JWKS at {discovery.jwks_uri} holds a key that cannot be read: {exc}") from None
        return Jwks(
            url=discovery.jwks_uri,
            keys=tuple(keys),
            usable=tuple(usable),
            key_set=key_set,
            evidence={**response_evidence(response, body_limit=0), "keys": [vars(k) for k in keys]},
        )

    # -- login ---------------------------------------------------------------------------------
    def _need(self, name: str) -> str:
        value = getattr(self.settings, name)
        if not value:
            raise CheckError(f"oidc.{name} is not configured; the login needs it")
        return str(value)

    def _client_auth(self, form: dict[str, str]) -> tuple[str, str] | None:
        client_id = self._need("client_id")
        if self.settings.client_secret:
            return client_id, self.settings.client_secret
        form["client_id"] = client_id  # a public client names itself in the body
        return None

    def login(self, discovery: Discovery, jwks: Jwks, screenshot: Path | None = None) -> Login:
        if not discovery.token_endpoint:
            raise CheckError(f"the discovery document at {discovery.url} names no token_endpoint")
        if self.settings.login == "password":
            return self._password_login(discovery, jwks)
        return self._browser_login(discovery, jwks, screenshot)

    def _password_login(self, discovery: Discovery, jwks: Jwks) -> Login:
        form = {
            "grant_type": "password",
            "username": self._need("username"),
            "password": self._need("password"),
            "scope": " ".join(self.settings.scopes),
        }
        auth = self._client_auth(form)
        response = self._post(str(discovery.token_endpoint), form, auth)
        evidence = {"token_request": f"POST {discovery.token_endpoint} (grant_type=password)", "at": now_iso()}
        evidence["status"] = response.status_code
        if response.status_code != 200:
            error = _idp_error(response)
            return Login("password", False, "token endpoint (password grant)", error, None, None, evidence)
        token = self._verify_id_token(self._id_token(response), discovery, jwks, nonce=None)
        return Login("password", True, None, None, token, None, evidence)

    def _browser_login(self, discovery: Discovery, jwks: Jwks, screenshot: Path | None) -> Login:
        if not discovery.authorization_endpoint:
            raise CheckError(f"the discovery document at {discovery.url} names no authorization_endpoint")
        redirect_uri = self._need("redirect_uri")
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        query = {
            "response_type": "code",
            "client_id": self._need("client_id"),
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.settings.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        sep = "&" if urlsplit(discovery.authorization_endpoint).query else "?"
        url = f"{discovery.authorization_endpoint}{sep}{urlencode(query)}"
        page = BrowserLogin(self.settings, self.timeout, self._verify).run(url, redirect_uri, screenshot)
        evidence = {"authorization_endpoint": discovery.authorization_endpoint, "pages": page.visited, "at": now_iso()}
        if page.screenshot_error:
            evidence["screenshot_error"] = page.screenshot_error
        shot = str(screenshot) if page.screenshot_taken and screenshot else None
        if page.callback is None:
            return Login("browser", False, page.stopped_at, page.error, None, shot, evidence)
        params = dict(httpx.URL(page.callback).params)
        if params.get("error"):
            error = params["error"] + (f": {params['error_description']}" if params.get("error_description") else "")
            return Login("browser", False, "redirect back to the client", error, None, shot, evidence)
        if params.get("state") != state:
            return Login("browser", False, "redirect back to the client", "state did not match", None, shot, evidence)
        form = {
            "grant_type": "authorization_code",
            "code": params.get("code", ""),
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth = self._client_auth(form)
        response = self._post(discovery.token_endpoint or "", form, auth)
        evidence["token_request"] = f"POST {discovery.token_endpoint} (grant_type=authorization_code, PKCE S256)"
        evidence["status"] = response.status_code
        if response.status_code != 200:
            return Login("browser", False, "code exchange", _idp_error(response), None, shot, evidence)
        token = self._verify_id_token(self._id_token(response), discovery, jwks, nonce=nonce)
        return Login("browser", True, None, None, token, shot, evidence)

    def _id_token(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            raise CheckError(f"the token endpoint answered 200 but not JSON: {response.text[:80]!r}") from None
        redactor = default_redactor()
        for name in ("access_token", "id_token", "refresh_token"):
            redactor.add(body.get(name) if isinstance(body, dict) else None)
        token = body.get("id_token") if isinstance(body, dict) else None
        if not token:
            raise CheckError("the token response carries no id_token (is `openid` among oidc.scopes?)")
        return str(token)

    def _verify_id_token(self, token: str, discovery: Discovery, jwks: Jwks, nonce: str | None) -> IdToken:
        from joserfc import jwt
        from joserfc.errors import JoseError

        algorithms = list(discovery.signing_algorithms) or ["RS256"]
        header_alg = None
        with contextlib.suppress(ValueError, IndexError):
            import json

            header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
            header_alg = header.get("alg")
        try:
            if jwks.key_set is None:
                raise CheckError(f"the JWKS at {jwks.url} has no usable signing key to verify the ID token with")
            claims = dict(jwt.decode(token, jwks.key_set, algorithms=algorithms).claims)
            valid, problem = True, None
        except JoseError as exc:
            valid, problem = False, f"{type(exc).__name__}: {exc}"
            claims = _unverified_claims(token)
        audience = claims.get("aud")
        audience_list = tuple(audience) if isinstance(audience, list) else ((str(audience),) if audience else ())
        exp = claims.get("exp")
        expires_in = round(float(exp) - time.time(), 1) if isinstance(exp, int | float) else None
        missing = tuple(
            "|".join(names)
            for names in self.settings.preset.identity_claims
            if not any(claims.get(name) for name in names)
        )
        shown = {
            name: claims[name] for names in self.settings.preset.identity_claims for name in names if name in claims
        }
        return IdToken(
            signature_valid=valid,
            signature_error=problem,
            algorithm=header_alg,
            issuer=claims.get("iss"),
            audience=audience_list,
            expires_in_s=expires_in,
            nonce_matches=None if nonce is None else secrets.compare_digest(str(claims.get("nonce", "")), nonce),
            claims=shown,
            missing_claims=missing,
            claim_names=tuple(sorted(claims)),
        )


def _unverified_claims(token: str) -> dict[str, Any]:
    import json

    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the browser -------------------------------------------------------------------------------------
@dataclass
class _PageResult:
    callback: str | None = None
    stopped_at: str | None = None
    error: str | None = None
    visited: list[str] = field(default_factory=list)
    screenshot_taken: bool = False
    screenshot_error: str | None = None


def _spki_pin(url: str, verify: ssl.SSLContext, timeout: float) -> str:
    """The base64 SHA-256 of the server's public key, after verifying its certificate against `verify`.

    Chromium reads only its own trust store; pinning the key that the configured CA bundle vouched for
    (--ignore-certificate-errors-spki-list) lets it trust a private CA's server and nothing else."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            verify.wrap_socket(sock, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:  # TLS failures included
        line = describe_connection_failure(exc, parts.netloc, timeout=timeout, trust_hint="check oidc.ca_bundle")
        raise CheckError(line or f"cannot connect to {parts.netloc}: {exc}") from None
    assert der is not None
    spki = (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


class BrowserLogin:
    """Drives the provider's login page in headless Chromium until it redirects to the redirect URI."""

    def __init__(self, settings: OidcSettings, timeout: float, verify: ssl.SSLContext) -> None:
        self.settings = settings
        self.timeout = timeout
        self.verify = verify

    def run(self, url: str, redirect_uri: str, screenshot: Path | None) -> _PageResult:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        if not Path(CHROMIUM).exists():
            raise CheckError(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
        args = list(CHROMIUM_ARGS)
        if self.settings.ca_bundle:
            args.append(f"--ignore-certificate-errors-spki-list={_spki_pin(url, self.verify, self.timeout)}")
        result = _PageResult()
        ms = self.timeout * 1000
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args, timeout=ms * 2)
                try:
                    self._drive(browser, url, redirect_uri, screenshot, result)
                finally:
                    browser.close()
        except PlaywrightError as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckError(f"the browser login stopped at {result.stopped_at or 'start'}: {message}") from None
        return result

    def _drive(self, browser: Any, url: str, redirect_uri: str, screenshot: Path | None, result: _PageResult) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        preset = self.settings.preset
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(self.timeout * 1000)

        def back_at_client(route: Any) -> None:
            result.callback = route.request.url
            route.fulfill(status=200, content_type="text/html", body="<h1>Signed in: back at the client</h1>")

        context.route(lambda u: u.startswith(redirect_uri), back_at_client)
        page.on("framenavigated", lambda frame: _visited(result, frame.url))
        try:
            result.stopped_at = "the authorization endpoint"
            response = page.goto(url)
            if result.callback:
                return
            # An error page (invalid_client, unregistered redirect URI) answers 4xx: no need to wait for a form.
            rejected = response is not None and response.status >= 400
            username = _first_visible(page, preset.username_fields, 1.0 if rejected else self.timeout)
            if username is None:
                status = response.status if response else "no response"
                result.error = f"HTTP {status}: {_page_text(page)}"
                return
            result.stopped_at = "the login page"
            username.fill(self._need_username())
            password = _first_visible(page, preset.password_fields, 0.5)
            if password is None:  # identifier-first pages (Okta Identity Engine): next, then password
                _submit(page, preset.submit_buttons, username)
                password = _first_visible(page, preset.password_fields, self.timeout)
                if password is None:
                    result.error = _error_text(page, preset.error_texts) or _page_text(page)
                    return
            password.fill(self._need_password())
            _submit(page, preset.submit_buttons, password)
            deadline = time.monotonic() + self.timeout
            while result.callback is None and time.monotonic() < deadline:
                error = _error_text(page, preset.error_texts)
                if error:
                    result.error = error
                    return
                with contextlib.suppress(PlaywrightTimeout):
                    page.wait_for_timeout(100)
            if result.callback is None:
                result.error = f"no redirect to {redirect_uri} within {self.timeout:g} s: {_page_text(page)}"
            else:  # let the navigation to the callback page finish before the screenshot
                with contextlib.suppress(PlaywrightTimeout):
                    page.wait_for_url(lambda u: u.startswith(redirect_uri), wait_until="load")
        finally:
            if result.callback is None:
                result.stopped_at = f"{result.stopped_at} ({_without_query(page.url)})"
            else:
                result.stopped_at = None
            if screenshot is not None:
                self._screenshot(page, screenshot, result)
            context.close()

    def _screenshot(self, page: Any, path: Path, result: _PageResult) -> None:
        from playwright.sync_api import Error as PlaywrightError

        for attempt in range(3):  # a page still navigating destroys the script context: wait and retry
            try:
                with contextlib.suppress(PlaywrightError):
                    page.wait_for_load_state("load", timeout=self.timeout * 1000)
                # the password is never in a picture: empty every password field first
                page.evaluate("document.querySelectorAll('input[type=password]').forEach(e => e.value = '')")
                path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True, timeout=self.timeout * 1000)
                result.screenshot_taken = True
                return
            except (PlaywrightError, OSError) as exc:
                result.screenshot_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if attempt < 2:
                    page.wait_for_timeout(200)

    def _need_username(self) -> str:
        if not self.settings.username:
            raise CheckError("oidc.username is not configured; the login needs a test user")
        return self.settings.username

    def _need_password(self) -> str:
        if not self.settings.password:
            raise CheckError("oidc.password is not configured; the login needs the test user's password")
        return self.settings.password


def _visited(result: _PageResult, url: str) -> None:
    if url.startswith("http"):  # not chrome-error:// and friends
        result.visited.append(_without_query(url))


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _first_visible(page: Any, selectors: Sequence[str], within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        for selector in selectors:
            locator = page.locator(selector).first
            with contextlib.suppress(Exception):
                if locator.is_visible():
                    return locator
        if time.monotonic() >= deadline:
            return None
        page.wait_for_timeout(100)


def _submit(page: Any, buttons: Sequence[str], field_locator: Any) -> None:
    for selector in buttons:
        button = page.locator(selector).first
        with contextlib.suppress(Exception):
            if button.is_visible():
                button.click()
                return
    field_locator.press("Enter")


def _error_text(page: Any, selectors: Sequence[str]) -> str | None:
    for selector in selectors:
        locator = page.locator(selector).first
        with contextlib.suppress(Exception):
            if locator.is_visible():
                text = " ".join(locator.inner_text().split())
                if text:
                    return text[:300]
    return None


def _page_text(page: Any) -> str:
    with contextlib.suppress(Exception):
        return " ".join(page.locator("body").inner_text().split())[:300] or "(empty page)"
    return "(page not readable)"
