"""Unit tests of the service half of the sandbox that need no server: the PKI chain, the DNS zone
resolver, the OIDC provider (in-process through Starlette's test client) and the registry."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from readiness.sandbox import Sandbox, SandboxContext
from readiness.sandbox.services.common import API_HOST, CA_IDENTIFIER, DOMAIN, ca_bundle, cert_paths, pki_dir
from readiness.sandbox.services.pki import PkiComponent


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxContext:
    ctx = SandboxContext(tmp_path_factory.mktemp("pki"))
    PkiComponent(ctx).up()
    return ctx


def _verify(ctx: SandboxContext, leaf: str, host: str = API_HOST, intermediate: bool = True) -> None:
    root = x509.load_pem_x509_certificate(ca_bundle(ctx).read_bytes())
    cert_file, chain_file, _ = cert_paths(ctx, leaf)
    served = x509.load_pem_x509_certificates((chain_file if intermediate else cert_file).read_bytes())
    verifier = (
        PolicyBuilder().store(Store([root])).time(dt.datetime.now(dt.UTC)).build_server_verifier(x509.DNSName(host))
    )
    verifier.verify(served[0], served[1:])


def test_the_ingress_leaf_chains_to_the_root_through_the_intermediate(pki: SandboxContext) -> None:
    _verify(pki, "ingress")
    _verify(pki, "ingress", host=f"app.{DOMAIN}")
    _verify(pki, "services", host=f"postgres.{DOMAIN}")
    chain = x509.load_pem_x509_certificates(cert_paths(pki, "ingress")[1].read_bytes())
    assert len(chain) == 2
    assert chain[1].extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize(
    ("leaf", "intermediate"),
    [("ingress-expired", True), ("ingress", False), ("ingress-wronghost", True)],
)
def test_the_faulty_leaves_fail_verification(pki: SandboxContext, leaf: str, intermediate: bool) -> None:
    with pytest.raises(VerificationError):
        _verify(pki, leaf, intermediate=intermediate)


def test_each_faulty_leaf_differs_in_its_one_way(pki: SandboxContext) -> None:
    def load(leaf: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(cert_paths(pki, leaf)[0].read_bytes())

    now = dt.datetime.now(dt.UTC)
    assert load("ingress-expired").not_valid_after_utc < now < load("ingress").not_valid_after_utc
    names = load("ingress-wronghost").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert API_HOST not in names.get_values_for_type(x509.DNSName)
    assert len(x509.load_pem_x509_certificates(cert_paths(pki, "ingress")[0].read_bytes())) == 1


def test_the_weak_leaf_has_a_1024_bit_key_and_the_others_2048(pki: SandboxContext) -> None:
    def bits(leaf: str) -> int:
        key = serialization.load_pem_private_key(cert_paths(pki, leaf)[2].read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.key_size

    assert bits("ingress-weakkey") == 1024
    assert bits("ingress") == bits("services") == 2048
    assert oct(cert_paths(pki, "ingress")[2].stat().st_mode & 0o777) == "0o600"


def test_pki_up_again_keeps_fresh_certificates(pki: SandboxContext) -> None:
    before = cert_paths(pki, "ingress")[0].read_bytes()
    PkiComponent(pki).up()
    assert cert_paths(pki, "ingress")[0].read_bytes() == before
    assert (pki_dir(pki) / "root-ca.key").exists()


# -- DNS -------------------------------------------------------------------------------------------
def test_zone_resolver_answers_authoritatively(tmp_path: Path) -> None:
    from dnslib import QTYPE, RCODE, DNSRecord

    from readiness.sandbox.services.dns import DnsComponent
    from readiness.sandbox.services.dns_server import ZoneResolver

    ctx = SandboxContext(tmp_path)
    component = DnsComponent(ctx)
    component._write_zone()
    resolver = ZoneResolver(component.zone_file)

    def ask(name: str, qtype: str) -> DNSRecord:
        return resolver.resolve(DNSRecord.question(name, qtype), None)

    reply = ask(API_HOST, "A")
    assert reply.header.aa == 1
    assert [str(rr.rdata) for rr in reply.rr] == ["127.0.0.1"]
    caa = [str(rr.rdata) for rr in ask(DOMAIN, "CAA").rr]
    assert f'0 issue "{CA_IDENTIFIER}"' in caa
    assert [rr.rtype for rr in ask(DOMAIN, "MX").rr] == [QTYPE.MX]
    assert ask(f"nope.{DOMAIN}", "A").header.rcode == RCODE.NXDOMAIN
    assert ask("example.org", "A").header.rcode == RCODE.REFUSED

    ctx.set("scenarios", ["dns-wrong-address"])
    component._write_zone()
    assert [str(rr.rdata) for rr in ask(API_HOST, "A").rr] == ["127.0.0.2"]


# -- OIDC ------------------------------------------------------------------------------------------
@pytest.fixture
def oidc(tmp_path: Path):  # type: ignore[no-untyped-def]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's notice about httpx vs httpx2
        from starlette.testclient import TestClient

    from readiness.sandbox.services.oidc_server import Provider, build_app

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "users.json").write_text(
        json.dumps({"alice": {"password": "pw", "sub": "u-1", "email": "alice@x.test", "name": "Alice"}})
    )
    (tmp_path / "clients.json").write_text(
        json.dumps({"cli": {"secret": "s3cret", "redirect_uris": ["https://app.x.test/cb"]}})
    )
    provider = Provider(
        {
            "issuer": "https://idp.x.test",
            "signing_key": str(tmp_path / "key.pem"),
            "users_file": str(tmp_path / "users.json"),
            "clients_file": str(tmp_path / "clients.json"),
        }
    )
    with TestClient(build_app(provider), base_url="https://idp.x.test") as client:
        yield client, tmp_path


def _code_flow(client, verifier: str, password: str = "pw", client_id: str = "cli"):  # type: ignore[no-untyped-def]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "https://app.x.test/cb",
        "scope": "openid email",
        "state": "st",
        "nonce": "nn",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = client.get("/authorize", params=params)
    if page.status_code != 200:
        return page
    hidden = {k: html.unescape(v) for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    return client.post("/authorize", data={**hidden, "username": "alice", "password": password}, follow_redirects=False)


def test_oidc_code_flow_with_pkce_and_jwks(oidc) -> None:  # type: ignore[no-untyped-def]
    from joserfc import jwt
    from joserfc.jwk import KeySet

    client, _ = oidc
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["code_challenge_methods_supported"] == ["S256"]
    keys = KeySet.import_key_set(client.get("/jwks").json())
    verifier = secrets.token_urlsafe(40)
    login = _code_flow(client, verifier)
    assert login.status_code == 302
    query = parse_qs(urlsplit(login.headers["location"]).query)
    assert query["state"] == ["st"]
    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": "https://app.x.test/cb"}
    token = client.post("/token", data={**form, "code_verifier": verifier}, auth=("cli", "s3cret"))
    assert token.status_code == 200, token.text
    claims = jwt.decode(token.json()["id_token"], keys).claims
    assert (claims["iss"], claims["aud"], claims["sub"], claims["nonce"]) == ("https://idp.x.test", "cli", "u-1", "nn")
    # a code is good once
    again = client.post("/token", data={**form, "code_verifier": verifier}, auth=("cli", "s3cret"))
    assert again.json()["error"] == "invalid_grant"


def test_oidc_rejects_wrong_verifier_password_secret_and_client(oidc) -> None:  # type: ignore[no-untyped-def]
    client, folder = oidc
    login = _code_flow(client, "right-verifier-" + "x" * 40)
    code = parse_qs(urlsplit(login.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.x.test/cb"}
    bad = client.post("/token", data={**form, "code_verifier": "wrong" * 10}, auth=("cli", "s3cret"))
    assert bad.json()["error"] == "invalid_grant"
    assert _code_flow(client, "v" * 43, password="nope").status_code == 401
    grant = {"grant_type": "password", "username": "alice", "password": "pw"}
    assert client.post("/token", data=grant, auth=("cli", "wrong")).status_code == 401
    assert client.post("/token", data=grant, auth=("cli", "s3cret")).status_code == 200
    # the registered client changes in place (the sso-wrong-client scenario)
    (folder / "clients.json").write_text(json.dumps({"other": {"secret": "s3cret", "redirect_uris": []}}))
    assert _code_flow(client, "v" * 43).status_code == 400
    assert client.post("/token", data=grant, auth=("cli", "s3cret")).json()["error"] == "invalid_client"


# -- registry --------------------------------------------------------------------------------------
def test_service_components_are_registered_with_their_scenarios(tmp_path: Path) -> None:
    services = ["pki", "postgres", "redis", "prefect", "ingress", "dns", "smtp", "oidc"]
    sandbox = Sandbox(SandboxContext(tmp_path, tied=True), only=services)
    assert [c.name for c in sandbox.components] == services
    owners = {name: owner for name, (owner, _) in Sandbox.all_scenarios().items()}
    assert owners["redis-old"] == "redis"
    assert owners["tls-no-intermediate"] == "ingress"
    assert owners["sso-wrong-client"] == "oidc"
    assert owners["prefect-errors"] == owners["prefect-worker-down"] == "prefect"
    assert owners["ingress-idle-timeout"] == owners["ingress-no-websocket"] == "ingress"
    assert owners["ui-api-url-internal"] == "prefect"
    assert owners["caa-wrong-issuer"] == "dns"
    assert owners["tls-expiring-soon"] == "ingress"
    assert owners["prefect-restart-during-load"] == owners["worker-no-heartbeat"] == "prefect"
    assert len([n for n, o in owners.items() if o in services]) == 38
