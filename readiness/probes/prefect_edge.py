"""Prefect behind the edge: the API URL the server hands the browser, and the events websockets.

Everything goes through the public endpoint (the ingress or load balancer), connecting to the edge
address when names do not resolve through the system, with the hostname kept for SNI and Host.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from readiness.core.expect import CheckError, now_iso
from readiness.probes.browser import CHROMIUM_ARGS as CHROMIUM_FLAGS
from readiness.probes.errors import describe_connection_failure
from readiness.probes.http import response_evidence, translated

#: the banner both Prefect UIs (v1 and v2) show when the API URL they were given does not answer
API_UNREACHABLE_BANNER = "Can't connect to Server API"
#: the localStorage key where the Prefect UI keeps base64(auth string) for basic auth
UI_PASSWORD_KEY = "prefect-password"
PROBE_EVENT = "prefect-readiness.websocket.probe"


# -- the URL rule ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiUrlJudgement:
    """What the browser would use as the API (`resolved`) and why it would not reach it (`problems`)."""

    advertised: str
    resolved: str
    problems: tuple[str, ...]

    @property
    def public(self) -> bool:
        return not self.problems


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80, "wss": 443, "ws": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _local_or_internal(host: str) -> str | None:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return "a local address"
    if host.endswith((".svc", ".cluster.local", ".svc.cluster.local")):
        return "a cluster-internal name"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified:
        return "a local address"
    return None


def judge_api_url(advertised: str, ui_url: str, public_api_url: str | None) -> ApiUrlJudgement:
    """The URL rule: `advertised` (PREFECT_UI_API_URL as /ui-settings gives it), resolved against the
    public UI URL, must be the public API: `/api` on the UI's own origin or the targets' API URL; never a
    local or cluster-internal address, nor plain http under an https UI (the browser blocks mixed content)."""
    resolved = urljoin(ui_url if ui_url.endswith("/") else ui_url + "/", advertised.strip())
    scheme, host, port = _origin(resolved)
    ui_scheme, ui_host, ui_port = _origin(ui_url)
    problems: list[str] = []
    if scheme not in ("http", "https"):
        problems.append(f"not an http(s) URL ({resolved})")
    kind = _local_or_internal(host)
    if kind:
        problems.append(f"{kind} ({host}) that a browser outside the cluster cannot reach")
    if ui_scheme == "https" and scheme == "http":
        problems.append("plain http under an https UI (the browser blocks mixed content)")
    same_origin = (scheme, host, port) == (ui_scheme, ui_host, ui_port)
    on_public_api = public_api_url is not None and _same_url(resolved, public_api_url)
    if not problems and not (same_origin or on_public_api):
        expected = f"the UI's own host or {public_api_url}" if public_api_url else "the UI's own host"
        problems.append(f"another host ({host}:{port}) than {expected}")
    return ApiUrlJudgement(advertised, resolved, tuple(problems))


def _same_url(a: str, b: str) -> bool:
    return _origin(a) == _origin(b) and urlsplit(a).path.rstrip("/") == urlsplit(b).path.rstrip("/")


# -- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UISettings:
    api_url: str | None
    auth: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiHealth:
    url: str
    healthy: bool
    observed: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Handshake:
    """One websocket opening handshake plus Prefect's auth message exchange."""

    url: str
    status: int | None
    subprotocol: str | None
    auth_reply: str | None
    failure: str | None = None  # one line: status or close code and the layer that most likely sent it
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def upgraded(self) -> bool:
        return self.status == 101

    @property
    def authenticated(self) -> bool:
        return self.auth_reply == "auth_success"


@dataclass(frozen=True)
class RoundTrip:
    """An event sent on /in arriving on /out, before and after both connections sat idle."""

    delivery_s: float | None
    idle_s: float
    survived_idle_s: float | None  # the idle gap survived (then an event still arrived), else None
    delivery_after_idle_s: float | None
    failure: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BrowserView:
    """What the UI did in a real browser: its calls to the API and what the page showed."""

    url: str
    banner: str | None  # the API-unreachable banner's text, when shown
    api_calls: list[str]  # "<url> -> <status>" or "<url> -> failed: <reason>"
    failed_calls: list[str]
    stuck_on_login: bool  # credentials were given, yet the UI stayed on its login page
    screenshot: str | None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def reached_api(self) -> bool:
        return self.banner is None and not self.failed_calls and bool(self.api_calls) and not self.stuck_on_login

    @property
    def summary(self) -> str:
        if self.reached_api:
            return f"{len(self.api_calls)} API calls answered, no banner"
        parts = [f"banner {self.banner!r}"] if self.banner else []
        parts += [f"failed: {c}" for c in self.failed_calls[:3]]
        if not self.api_calls:
            parts.append("the page made no call to the API")
        if self.stuck_on_login:
            parts.append("stayed on the login page although credentials were given")
        return "; ".join(parts)


# -- layer attribution -------------------------------------------------------------------------------
def rejected_by(status: int, server: str | None, body: str) -> str:
    """Which layer most likely answered a websocket upgrade with a plain HTTP status."""
    from_prefect = '"detail"' in body or '"exception_message"' in body
    if from_prefect:
        return (
            "the Prefect server answered as plain HTTP: a proxy or load balancer in front dropped the "
            "Upgrade/Connection headers"
        )
    who = f"the proxy, load balancer or WAF in front (Server: {server})" if server else "a proxy, load balancer or WAF"
    if status in (502, 503, 504):
        return f"most likely {who}: it could not open or keep a websocket to Prefect"
    return f"most likely {who}, refusing the upgrade"


def closed_by(exc: ConnectionClosed) -> str:
    """Which layer most likely closed an open websocket."""
    if exc.rcvd is None:
        return (
            "closed without a websocket close frame (code 1006): most likely a proxy or load balancer "
            "in between cut the connection (idle timeout)"
        )
    code, reason = exc.rcvd.code, exc.rcvd.reason
    if code == 1008:
        return f"Prefect closed it with 1008 (policy violation: {reason or 'credentials refused'})"
    if code == 1002:
        return f"Prefect closed it with 1002 (protocol error: {reason})"
    return f"the server side closed it with code {code} ({reason or 'no reason'})"


# -- the probe ---------------------------------------------------------------------------------------
class PrefectEdge:
    """The public UI and API of a Prefect install, reached through its edge."""

    def __init__(
        self,
        ui_url: str | None,
        api_url: str | None,
        *,
        api_key: str | None = None,
        auth_string: str | None = None,
        address: str | None = None,
        verify: ssl.SSLContext,
        timeout: float = 10.0,
    ) -> None:
        self.ui_url = ui_url if ui_url is None or ui_url.endswith("/") else ui_url + "/"
        self.api_url = api_url.rstrip("/") if api_url else None
        self.api_key, self.auth_string, self.address = api_key, auth_string, address
        self.verify, self.timeout = verify, timeout
        self._http = httpx.Client(verify=verify, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    @property
    def token(self) -> str | None:
        """What Prefect's websocket `auth` message carries: the API key, else the basic-auth string."""
        return self.api_key or self.auth_string

    # -- HTTP --------------------------------------------------------------------------------------
    def _get(self, url: str) -> httpx.Response:
        parts = urlsplit(url)
        extensions: dict[str, Any] = {}
        headers: dict[str, str] = {}
        target = url
        if self.address and parts.hostname and parts.hostname != self.address:
            netloc = self.address + (f":{parts.port}" if parts.port else "")
            target = urlunsplit(parts._replace(netloc=netloc))
            headers["Host"] = parts.netloc
            extensions["sni_hostname"] = parts.hostname
        with translated(url):
            response = self._http.get(target, headers=headers, extensions=extensions)
        return response

    def _evidence(self, response: httpx.Response, url: str) -> dict[str, Any]:
        evidence = response_evidence(response)
        evidence["request"] = f"GET {url}"
        if self.address:
            evidence["connected_to"] = self.address
        return evidence

    def ui_settings(self) -> UISettings:
        if not self.ui_url:
            raise CheckError("no public UI URL configured")
        url = urljoin(self.ui_url, "ui-settings")
        response = self._get(url)
        evidence = self._evidence(response, url)
        if response.status_code != 200:
            raise CheckError(
                f"GET {url} answered {response.status_code}: is {self.ui_url} the Prefect UI (prefect.ui_url)?"
            )
        try:
            data = response.json()
        except ValueError:
            raise CheckError(f"GET {url} did not answer JSON: is {self.ui_url} the Prefect UI?") from None
        api_url = data.get("api_url") if isinstance(data, dict) else None
        return UISettings(api_url if isinstance(api_url, str) else None, data.get("auth"), evidence)

    def api_health(self, api_url: str) -> ApiHealth:
        url = api_url.rstrip("/") + "/health"
        try:
            response = self._get(url)
        except CheckError as exc:  # unreachable from here is the finding, not an error of the check
            return ApiHealth(url, False, str(exc), {"request": f"GET {url}", "error": str(exc), "at": now_iso()})
        healthy = response.status_code == 200 and response.text.strip() == "true"
        return ApiHealth(url, healthy, f"{response.status_code} {response.text[:80]}", self._evidence(response, url))

    # -- websockets --------------------------------------------------------------------------------
    def _ws_url(self, path: str) -> str:
        if not self.api_url:
            raise CheckError("no public API URL configured")
        parts = urlsplit(self.api_url)
        scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
        return urlunsplit(parts._replace(scheme=scheme, path=parts.path.rstrip("/") + path))

    def _open(self, url: str) -> ClientConnection:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        host = self.address or parts.hostname or ""
        try:
            sock = socket.create_connection((host, port), timeout=self.timeout)
        except OSError as exc:
            line = describe_connection_failure(exc, f"{host}:{port} (for {url})", timeout=self.timeout)
            raise CheckError(line or f"cannot connect to {host}:{port} for {url}: {exc}") from None
        try:
            return connect(
                url,
                sock=sock,
                ssl=self.verify if parts.scheme == "wss" else None,
                server_hostname=parts.hostname if parts.scheme == "wss" else None,
                subprotocols=["prefect"],  # type: ignore[list-item]
                open_timeout=self.timeout,
                close_timeout=2,
                ping_interval=None,  # no keepalive from this side: the idle gap must be idle
                user_agent_header="prefect-readiness",
            )
        except BaseException:
            sock.close()
            raise

    def _open_retrying(self, url: str, evidence: dict[str, Any], attempts: int = 2) -> ClientConnection:
        """`_open`, tried again once when no handshake answer came in time. A proxy that refuses or drops
        websockets answers (or closes) every time, so a second try hides no edge fault; one lost handshake
        in a hundred or so through a proxy is a blip, and the evidence records it."""
        for attempt in range(1, attempts + 1):
            try:
                ws = self._open(url)
            except TimeoutError as exc:
                evidence.setdefault("retried_after", []).append(f"attempt {attempt}: {exc}")
                if attempt == attempts:
                    raise
                continue
            evidence["attempts"] = attempt
            return ws
        raise AssertionError("unreachable")

    @contextmanager
    def events_socket(self, path: str) -> Iterator[tuple[ClientConnection | None, Handshake]]:
        """Open `/api/events<path>` and authenticate; yields the connection (None when refused) and the
        handshake. Transport failures before any HTTP answer are a CheckError."""
        url = self._ws_url("/events" + path)
        evidence: dict[str, Any] = {"request": f"GET {url} (Upgrade: websocket, subprotocol prefect)", "at": now_iso()}
        if self.address:
            evidence["connected_to"] = self.address
        try:
            ws = self._open_retrying(url, evidence)
        except InvalidStatus as exc:
            response = exc.response
            body = response.body.decode(errors="replace")[:200] if response.body else ""
            server = response.headers.get("Server")
            layer = rejected_by(response.status_code, server, body)
            evidence.update({"status": response.status_code, "server": server, "body": body, "layer": layer})
            failure = f"HTTP {response.status_code} instead of 101: {layer}"
            yield None, Handshake(url, response.status_code, None, None, failure, evidence)
            return
        except OSError as exc:  # TLS failures included
            line = describe_connection_failure(exc, url, timeout=self.timeout)
            raise CheckError(line or f"websocket handshake with {url} failed: {type(exc).__name__}: {exc}") from None
        except InvalidHandshake as exc:
            raise CheckError(f"websocket handshake with {url} failed: {type(exc).__name__}: {exc}") from None
        try:
            evidence.update({"status": 101, "subprotocol": ws.subprotocol, "server": ws.response.headers.get("Server")})
            reply, failure = self._authenticate(ws)
            evidence["auth_reply"] = reply
            if failure:
                evidence["layer"] = failure
            yield ws, Handshake(url, 101, ws.subprotocol, reply, failure, evidence)
        finally:
            ws.close()

    def _authenticate(self, ws: ClientConnection) -> tuple[str | None, str | None]:
        try:
            ws.send(json.dumps({"type": "auth", "token": self.token}))
            message = json.loads(ws.recv(timeout=self.timeout))
        except ConnectionClosed as exc:
            return None, closed_by(exc)
        except TimeoutError:
            return None, f"no answer to the auth message within {self.timeout:g} s"
        except ValueError:
            return None, "the answer to the auth message was not JSON"
        kind = message.get("type") if isinstance(message, dict) else None
        return (str(kind) if kind else None), None

    def round_trip(self, run_id: str, delivery_timeout: float, idle_s: float) -> RoundTrip:
        """Subscribe on /out to a resource named for the run, send an event for it on /in (then close /in,
        which makes Prefect publish at once), wait for it; then keep /out and a second /in idle for
        `idle_s` and repeat over them."""
        resource = f"prefect-readiness.run.{run_id}"
        evidence: dict[str, Any] = {"resource": resource, "idle_s": idle_s, "at": now_iso()}
        with self.events_socket("/out") as (out, handshake):
            if out is None or not handshake.authenticated:
                evidence.update(failure=f"/out: {handshake.failure}", handshake=handshake.evidence)
                return RoundTrip(None, idle_s, None, None, f"/out: {handshake.failure}", evidence)
            now = datetime.now(UTC)
            subscription = {
                "type": "filter",
                "backfill": False,
                "filter": {
                    "resource": {"id": [resource]},
                    "occurred": {
                        "since": (now - timedelta(minutes=1)).isoformat(),
                        "until": (now + timedelta(days=1)).isoformat(),
                    },
                },
            }
            try:
                out.send(json.dumps(subscription))
            except ConnectionClosed as exc:
                evidence["failure"] = f"/out closed: {closed_by(exc)}"
                return RoundTrip(None, idle_s, None, None, evidence["failure"], evidence)
            first, failure = self._deliver(out, resource, "before-idle", delivery_timeout, idle_s=0)
            evidence["delivery_s"] = first
            if failure:
                evidence["failure"] = failure
                return RoundTrip(first, idle_s, None, None, failure, evidence)
            after, failure = self._deliver(out, resource, "after-idle", delivery_timeout, idle_s=idle_s)
            evidence["delivery_after_idle_s"] = after
            survived = idle_s if failure is None else None
            evidence["survived_idle_s"] = survived
            if failure:
                evidence["failure"] = failure
            return RoundTrip(first, idle_s, survived, after, failure, evidence)

    def _deliver(
        self, out: ClientConnection, resource: str, label: str, delivery_timeout: float, idle_s: float
    ) -> tuple[float | None, str | None]:
        event_id = str(uuid.uuid4())
        with self.events_socket("/in") as (inbound, handshake):
            if inbound is None or not handshake.authenticated:
                return None, f"/in: {handshake.failure}"
            if idle_s:
                time.sleep(idle_s)
                if (closed := _closed(out)) is not None:
                    return None, f"/out did not survive {idle_s:g} s idle: {closed_by(closed)}"
            event = {
                "id": event_id,
                "occurred": datetime.now(UTC).isoformat(),
                "event": PROBE_EVENT,
                "resource": {"prefect.resource.id": resource, "prefect.resource.name": label},
            }
            started = time.monotonic()
            try:
                inbound.send(json.dumps(event))
                inbound.close()  # Prefect publishes what a closing /in connection sent, without batching
            except ConnectionClosed as exc:
                what = f"/in did not survive {idle_s:g} s idle" if idle_s else "/in closed"
                return None, f"{what}: {closed_by(exc)}"
            if idle_s and inbound.close_code not in (1000, None):
                return None, f"/in did not survive {idle_s:g} s idle: closed with code {inbound.close_code}"
        deadline = started + delivery_timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(out.recv(timeout=left))
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                return None, f"/out closed while waiting for the event: {closed_by(exc)}"
            except ValueError:
                continue
            if isinstance(message, dict) and (message.get("event") or {}).get("id") == event_id:
                return round(time.monotonic() - started, 3), None
        return None, f"the event sent on /in did not arrive on /out within {delivery_timeout:g} s"


def _closed(ws: ClientConnection) -> ConnectionClosed | None:
    """The close of a connection that went away while nobody read from it, else None."""
    try:
        answered = ws.ping().wait(timeout=5)
    except ConnectionClosed as exc:
        return exc
    return None if answered else ConnectionClosed(None, None)


# -- the browser -------------------------------------------------------------------------------------
def load_ui_in_browser(
    ui_url: str,
    *,
    api_base: str,
    auth_string: str | None,
    address: str | None,
    hosts: list[str],
    screenshot: Path,
    timeout: float,
    executable: str = "/usr/bin/chromium",
) -> BrowserView:
    """Load the UI in headless Chromium as a user would, signed in (basic auth through the UI's own
    storage), and record its calls to `api_base` and whether it shows the API-unreachable banner, all
    within `timeout` seconds (a busy machine needs tens of seconds for the UI's bundle).
    TLS trust is the TLS checks' job: the browser accepts the certificate it is shown."""
    import base64

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Request, Response, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not Path(executable).exists():
        raise CheckError(f"no browser at {executable}: install Debian's chromium (apt-get install chromium)")
    args = list(CHROMIUM_FLAGS)
    if address:
        rules = ", ".join(f"MAP {host} {address}" for host in sorted(set(hosts)) if host)
        args.append(f"--host-resolver-rules={rules}")
    calls: list[str] = []
    failed: list[str] = []

    def answered(response: Response) -> None:
        if response.url.startswith(api_base):
            calls.append(f"{response.url} -> {response.status}")
            if response.status >= 500:
                failed.append(calls[-1])

    def refused(request: Request) -> None:
        if request.url.startswith(api_base):
            calls.append(f"{request.url} -> failed: {request.failure}")
            failed.append(calls[-1])

    evidence: dict[str, Any] = {"request": f"browser GET {ui_url}", "api_base": api_base, "at": now_iso()}
    banner: str | None = None
    shot: str | None = None
    try:
        with sync_playwright() as p:
            deadline = time.monotonic() + timeout  # the whole session: launch, load, settle, screenshot

            def left(reserve: float = 0.0) -> float:
                return max(1.0, deadline - time.monotonic() - reserve) * 1000

            browser = p.chromium.launch(executable_path=executable, args=args, timeout=left())
            try:
                context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
                if auth_string:
                    token = base64.b64encode(auth_string.encode()).decode()
                    context.add_init_script(f"window.localStorage.setItem({UI_PASSWORD_KEY!r}, {token!r});")
                page = context.new_page()
                page.on("response", answered)
                page.on("requestfailed", refused)
                page.goto(ui_url, wait_until="domcontentloaded", timeout=left(reserve=5))
                with suppress(PlaywrightTimeout):  # the UI's first API calls settle
                    page.wait_for_load_state("networkidle", timeout=left(reserve=5))
                locator = page.get_by_text(API_UNREACHABLE_BANNER).first
                try:
                    locator.wait_for(state="visible", timeout=1500)
                    banner = locator.inner_text()[:300]
                except PlaywrightTimeout:
                    banner = None
                evidence["page_url"] = page.url
                evidence["title"] = page.title()
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=False)
                shot = str(screenshot)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise CheckError(f"the browser could not load {ui_url}: {str(exc).splitlines()[0]}") from None
    stuck = bool(auth_string) and "/login" in urlsplit(str(evidence.get("page_url", ""))).path
    evidence.update({"api_calls": calls[:20], "banner": banner, "stuck_on_login": stuck, "screenshot": shot})
    return BrowserView(ui_url, banner, calls, failed, stuck, shot, evidence)
