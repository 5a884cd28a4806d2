"""The Prefect API probe: health, readiness and versions of a Prefect 3 server."""

from __future__ import annotations

import base64
import re
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from readiness.core.expect import CheckError
from readiness.probes.http import response_evidence, translated
from readiness.targets import PrefectTarget


@dataclass(frozen=True)
class Health:
    healthy: bool
    ready: bool
    ready_message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Versions:
    server: str | None
    api: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthAttempt:
    """One request made with a given kind of credentials, and whether the API refused it."""

    endpoint: str  # "read" | "write" | "health" | "ready"
    request: str
    credentials: str  # "configured" | "none" | "wrong"
    status: int

    @property
    def refused(self) -> bool:
        return self.status in (401, 403)


@dataclass(frozen=True)
class AuthCheck:
    """How the API treats the configured, missing and wrong credentials on a read and a write endpoint."""

    scheme: str  # "Bearer" | "Basic"
    credentials_configured: bool
    attempts: list[AuthAttempt]

    def _of(self, credentials: str, endpoints: tuple[str, ...] = ("read", "write")) -> list[AuthAttempt]:
        return [a for a in self.attempts if a.credentials == credentials and a.endpoint in endpoints]

    @property
    def configured_accepted(self) -> bool:
        return all(not a.refused for a in self._of("configured"))

    @property
    def anonymous_admitted(self) -> list[str]:
        """Requests without credentials that the API did not refuse."""
        return [f"{a.request} -> {a.status}" for a in self._of("none") if not a.refused]

    @property
    def wrong_admitted(self) -> list[str]:
        return [f"{a.request} -> {a.status}" for a in self._of("wrong") if not a.refused]

    @property
    def evidence(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "attempts": [
                {"endpoint": a.endpoint, "request": a.request, "credentials": a.credentials, "status": a.status}
                for a in self.attempts
            ],
        }


@dataclass(frozen=True)
class FlowRunTrace:
    """What happened to one flow run the probe created: its states in order, how long, its logs."""

    flow_run_id: str
    via: str  # "deployment <flow/name> on work pool <pool>" or "API-driven flow run (no deployment)"
    final_state: str | None
    states: list[str]
    seconds: float
    log_lines: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PoolWorker:
    """One worker the API lists for a work pool, and how long ago it last sent a heartbeat."""

    name: str
    last_heartbeat_age_s: float | None  # None: never sent one
    heartbeat_interval_s: float | None
    status: str | None  # the API's own ONLINE/OFFLINE, when it says

    def describe(self) -> str:
        if self.last_heartbeat_age_s is None:
            return f"{self.name}: no heartbeat ever"
        return f"{self.name}: last heartbeat {self.last_heartbeat_age_s:.0f} s ago" + (
            f" ({self.status})" if self.status else ""
        )


@dataclass(frozen=True)
class WorkPoolWorkers:
    """A work pool as the API describes it (None: the pool does not exist) and the workers polling it."""

    pool: str
    pool_type: str | None
    pool_status: str | None  # READY / NOT_READY / PAUSED (Prefect 3), None when the pool is missing
    paused: bool
    workers: list[PoolWorker]
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.pool_type is not None

    def fresh(self, max_age_s: float) -> list[PoolWorker]:
        return [w for w in self.workers if w.last_heartbeat_age_s is not None and w.last_heartbeat_age_s <= max_age_s]


#: Self-Managed and Cloud API URLs carry the workspace; they take Bearer API keys.
_WORKSPACE_URL = re.compile(r"/api/accounts/[^/]+/workspaces/[^/]+/?$")
_TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class PrefectAPI:
    """A read-only view of a Prefect API given by a :class:`PrefectTarget`."""

    def __init__(self, target: PrefectTarget, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        if not target.api_url:
            raise CheckError(
                "no Prefect API configured: set PREFECT_API_URL (and PREFECT_API_KEY or PREFECT_API_AUTH_STRING) "
                "or activate a Prefect profile that has them"
            )
        self.target = target
        self.base_url = target.api_url
        headers: dict[str, str] = {}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        elif target.auth_string:
            headers["Authorization"] = "Basic " + base64.b64encode(target.auth_string.encode()).decode()
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, verify=verify)
        self._anonymous = httpx.Client(base_url=self.base_url, timeout=timeout, verify=verify)

    def close(self) -> None:
        self._client.close()
        self._anonymous.close()

    def get(self, path: str, authenticated: bool = True) -> httpx.Response:
        client = self._client if authenticated else self._anonymous
        with translated(f"{self.base_url}{path}"):
            return client.get(path)

    def _call(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None,
              authenticated: bool = True) -> httpx.Response:  # fmt: skip
        client = self._client if authenticated else self._anonymous
        with translated(f"{self.base_url}{path}"):
            return client.request(method, path, json=json, headers=headers)

    def _ok(self, method: str, path: str, json: Any = None, retries: int = 0) -> Any:
        """An authenticated call that must succeed; anything else is a CheckError naming the answer.

        With `retries`, a gateway answer (502, 503, 504) is tried again after a short pause."""
        response = self._call(method, path, json=json)
        for attempt in range(retries):
            if response.status_code not in (502, 503, 504):
                break
            time.sleep(0.2 * (attempt + 1))
            response = self._call(method, path, json=json)
        if response.status_code in (401, 403):
            raise CheckError(
                f"{method} {self.base_url}{path} answered {response.status_code}: the configured credentials "
                "were not accepted (check PREFECT_API_KEY or PREFECT_API_AUTH_STRING)"
            )
        if response.status_code >= 400:
            raise CheckError(f"{method} {self.base_url}{path} answered {response.status_code}: {response.text[:200]}")
        return response.json() if response.content else None

    # -- authentication ------------------------------------------------------------------------------
    def auth_scheme(self) -> str:
        if self.target.api_key or (not self.target.auth_string and _WORKSPACE_URL.search(self.base_url)):
            return "Bearer"
        return "Basic"

    def _wrong_credentials(self, scheme: str) -> str:
        forged = secrets.token_urlsafe(12)
        if scheme == "Bearer":
            return f"Bearer pnu_readiness{forged}"
        user = (self.target.auth_string or "admin:").partition(":")[0] or "admin"
        return "Basic " + base64.b64encode(f"{user}:wrong-{forged}".encode()).decode()

    def authentication(self) -> AuthCheck:
        """A read (POST /flows/filter) and a write (POST /flow_runs/ with an empty body, which an
        authenticated caller gets 422 for, so nothing is created) with the configured, no and wrong
        credentials; health and ready without credentials for the record."""
        scheme = self.auth_scheme()
        endpoints = {"read": ("POST", "/flows/filter", {"limit": 1}), "write": ("POST", "/flow_runs/", {})}
        wrong = {"Authorization": self._wrong_credentials(scheme)}
        attempts: list[AuthAttempt] = []
        configured = bool(self.target.api_key or self.target.auth_string)
        for endpoint, (method, path, body) in endpoints.items():
            tries: list[tuple[str, dict[str, str] | None, bool]] = [("none", None, False), ("wrong", wrong, False)]
            if configured:
                tries.insert(0, ("configured", None, True))
            for credentials, headers, authenticated in tries:
                response = self._call(method, path, json=body, headers=headers, authenticated=authenticated)
                attempts.append(AuthAttempt(endpoint, f"{method} {path}", credentials, response.status_code))
        for endpoint, path in (("health", "/health"), ("ready", "/ready")):
            response = self.get(path, authenticated=False)
            attempts.append(AuthAttempt(endpoint, f"GET {path}", "none", response.status_code))
        return AuthCheck(scheme=scheme, credentials_configured=configured, attempts=attempts)

    # -- end to end ----------------------------------------------------------------------------------
    def run_deployment(self, deployment: str, tags: list[str], timeout: float,
                       cleanup: Callable[[str], None]) -> FlowRunTrace:  # fmt: skip
        """Create a flow run of `deployment` ("flow/name"), wait for a terminal state, read its logs.

        `cleanup(flow_run_id)` is called as soon as the run exists, so the caller can remove it even
        when this raises or is interrupted."""
        flow_name, _, name = deployment.partition("/")
        found = self._call("GET", f"/deployments/name/{flow_name}/{name}")
        if found.status_code == 404:
            raise CheckError(f"deployment {deployment!r} not found at {self.base_url} (targets key prefect.deployment)")
        if found.status_code >= 400:
            raise CheckError(f"GET {self.base_url}/deployments/name/{deployment} answered {found.status_code}")
        info = found.json()
        started = time.monotonic()
        run = self._ok("POST", f"/deployments/{info['id']}/create_flow_run", {"tags": tags, "name": tags[0]})
        cleanup(run["id"])
        state = self._wait_terminal(run["id"], started + timeout)
        return self._trace(run["id"], f"deployment {deployment} on work pool {info.get('work_pool_name')}", state,
                           time.monotonic() - started)  # fmt: skip

    def run_api_driven(self, tags: list[str], cleanup_flow: Callable[[str], None]) -> FlowRunTrace:
        """Without a deployment: a tagged flow and flow run whose states the probe drives itself."""
        started = time.monotonic()
        flow = self._ok("POST", "/flows/", {"name": f"readiness-e2e-{tags[0]}", "tags": tags})
        cleanup_flow(flow["id"])
        run = self._ok("POST", "/flow_runs/", {"flow_id": flow["id"], "name": tags[0], "tags": tags})
        for state in ("PENDING", "RUNNING"):
            self._ok("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": state}, "force": True})
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        log = {"name": "readiness", "level": 20, "message": f"readiness e2e {tags[0]}", "timestamp": now,
               "flow_run_id": run["id"]}  # fmt: skip
        self._ok("POST", "/logs/", [log])
        self._ok("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "COMPLETED"}, "force": True})
        state = self._wait_terminal(run["id"], time.monotonic() + 10)
        return self._trace(run["id"], "API-driven flow run (no deployment configured)", state,
                           time.monotonic() - started)  # fmt: skip

    def _wait_terminal(self, flow_run_id: str, deadline: float) -> str | None:
        state: str | None = None
        while True:
            run = self._ok("GET", f"/flow_runs/{flow_run_id}")
            state = (run.get("state") or {}).get("type")
            if state in _TERMINAL or time.monotonic() >= deadline:
                return state
            time.sleep(1.0)

    def _trace(self, flow_run_id: str, via: str, final_state: str | None, seconds: float) -> FlowRunTrace:
        history = self._ok("GET", f"/flow_run_states/?flow_run_id={flow_run_id}") or []
        states = [s.get("type") for s in sorted(history, key=lambda s: s.get("timestamp", ""))]
        # Logs arrive in batches (every 2 s, later on a busy machine), the flow-run process's last ones as it
        # exits, after its final state. Read until the engine's closing line ("Finished in state ...") is
        # there, or, for a run no engine drove, until two reads 2 s apart agree; at most 20 s.
        lines: list[str] = []
        body = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200, "sort": "TIMESTAMP_ASC"}
        deadline = time.monotonic() + 20
        while True:
            previous = lines
            lines = [entry.get("message", "") for entry in self._ok("POST", "/logs/filter", body) or []]
            if final_state not in _TERMINAL or any(line.startswith("Finished in state") for line in lines):
                break
            engine_driven = via.startswith("deployment")  # a worker ran it through Prefect's flow engine
            if (lines and lines == previous and not engine_driven) or time.monotonic() >= deadline:
                break
            time.sleep(2.0)
        return FlowRunTrace(
            flow_run_id=flow_run_id,
            via=via,
            final_state=final_state,
            states=[s for s in states if s],
            seconds=round(seconds, 1),
            log_lines=lines,
            evidence={
                "flow_run_id": flow_run_id,
                "via": via,
                "states": states,
                "log_lines": lines[:20],
                "seconds": round(seconds, 1),
            },  # fmt: skip
        )

    # -- cleanup -------------------------------------------------------------------------------------
    def tagged(self, tag: str) -> dict[str, list[str]]:
        """IDs of flows and flow runs carrying `tag` (what a run must leave behind: nothing)."""
        flows = self._ok("POST", "/flows/filter", {"flows": {"tags": {"all_": [tag]}}, "limit": 200}, retries=5) or []
        body = {"flow_runs": {"tags": {"all_": [tag]}}, "limit": 200}
        runs = self._ok("POST", "/flow_runs/filter", body, retries=5) or []
        return {"flows": [f["id"] for f in flows], "flow_runs": [r["id"] for r in runs]}

    def delete_tagged(self, tag: str, rounds: int = 20) -> dict[str, list[str]]:
        """Delete every flow (its runs go with it) and flow run tagged `tag`; returns what was there."""
        found = self.tagged(tag)
        left = found
        for _ in range(rounds):
            if not left["flows"] and not left["flow_runs"]:
                break
            for flow in left["flows"]:
                self.delete(f"/flows/{flow}")
            for run in left["flow_runs"]:
                self.delete(f"/flow_runs/{run}")
            left = self.tagged(tag)
        return found

    def delete(self, path: str, retries: int = 5) -> int:
        """DELETE `path`; a gateway answer (502, 503, 504) is tried again. Returns the last status."""
        status = self._call("DELETE", path).status_code
        for attempt in range(retries):
            if status not in (502, 503, 504):
                break
            time.sleep(0.2 * (attempt + 1))
            status = self._call("DELETE", path).status_code
        return status

    def create(self, path: str, body: Any) -> Any:
        """POST `body` to `path`, which must succeed (for objects a write or load check makes)."""
        return self._ok("POST", path, body, retries=3)

    def authorization_header(self) -> str | None:
        return self._client.headers.get("Authorization")

    def timed_read(self) -> tuple[int, float]:
        """A light authenticated read (POST /flow_runs/count): its status and latency in ms."""
        started = time.perf_counter()
        response = self._call("POST", "/flow_runs/count", json={})
        return response.status_code, round((time.perf_counter() - started) * 1000, 1)

    def deployment_work_pool(self, deployment: str) -> str | None:
        """The work pool of deployment "flow/name", or None when the API does not know the deployment."""
        response = self._call("GET", f"/deployments/name/{deployment}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise CheckError(f"GET {self.base_url}/deployments/name/{deployment} answered {response.status_code}")
        return response.json().get("work_pool_name")

    def pool_workers(self, pool: str) -> WorkPoolWorkers:
        """The pool (GET /work_pools/{pool}) and its workers (POST /work_pools/{pool}/workers/filter), read-only."""
        from datetime import UTC, datetime

        found = self._call("GET", f"/work_pools/{pool}")
        evidence: dict[str, Any] = {"pool": response_evidence(found)}
        if found.status_code == 404:
            return WorkPoolWorkers(pool, None, None, False, [], evidence)
        if found.status_code >= 400:
            raise CheckError(f"GET {self.base_url}/work_pools/{pool} answered {found.status_code}: {found.text[:200]}")
        data = found.json()
        listed = self._ok("POST", f"/work_pools/{pool}/workers/filter", {"limit": 200}) or []
        now = datetime.now(UTC)
        workers = []
        for item in listed:
            beat = item.get("last_heartbeat_time")
            age = None
            if beat:
                when = datetime.fromisoformat(beat.replace("Z", "+00:00"))
                age = max(0.0, round((now - when).total_seconds(), 1))
            interval = item.get("heartbeat_interval_seconds")
            workers.append(PoolWorker(str(item.get("name")), age, float(interval) if interval else None,
                                      item.get("status")))  # fmt: skip
        evidence["workers"] = [
            {"name": w.name, "last_heartbeat_age_s": w.last_heartbeat_age_s, "heartbeat_interval_s":
             w.heartbeat_interval_s, "status": w.status} for w in workers
        ]  # fmt: skip
        return WorkPoolWorkers(pool, data.get("type"), data.get("status"), bool(data.get("is_paused")), workers,
                               evidence)  # fmt: skip

    def health(self) -> Health:
        live = self.get("/health")
        ready = self.get("/ready")
        try:
            message = str(ready.json().get("message", "")) if ready.content else ""
        except (ValueError, AttributeError):
            message = ready.text[:200]
        healthy = live.status_code == 200 and live.text.strip() == "true"
        return Health(
            healthy=healthy,
            ready=ready.status_code == 200,
            ready_message=message or ready.text[:200],
            evidence={"health": response_evidence(live), "ready": response_evidence(ready)},
        )

    def versions(self) -> Versions:
        server = self.get("/admin/version")
        if server.status_code in (401, 403):
            raise CheckError(
                f"GET {self.base_url}/admin/version answered {server.status_code}: the configured credentials "
                "were not accepted (check PREFECT_API_KEY or PREFECT_API_AUTH_STRING)"
            )
        api = self.get("/version")

        def _value(response: httpx.Response) -> str | None:
            if response.status_code != 200:
                return None
            try:
                value = response.json()
            except ValueError:
                return None
            return str(value) if isinstance(value, str) else None

        return Versions(
            server=_value(server),
            api=_value(api),
            evidence={"server": response_evidence(server), "api": response_evidence(api)},
        )
