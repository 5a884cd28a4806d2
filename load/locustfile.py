"""Realistic Prefect 3 API traffic for Locust: workers, flow runs and UI readers.

Run by `load.runner` as a Locust master and local worker processes (never inside pytest: gevent
monkey-patches the process it runs in). Configuration comes from the environment the runner sets:

- READINESS_LOAD_CONFIG: a JSON file (see `load.runner.LoadPlan.config`): API path prefix, run tag,
  work pool, flow id, user weights, pacing, brake limits, where to write statistics;
- READINESS_LOAD_AUTHORIZATION: the Authorization header value (never on a command line);
- READINESS_LOAD_CA_BUNDLE: the CA bundle that verifies the API's TLS certificate (optional).

Request names start with their endpoint class (`poll`, `write`, `read`, `events`), which the SLOs are set
per. Every object a user creates carries the run tag; the runner removes them all afterwards. Events (sent
over the websocket as Prefect's own client does) carry the run tag in their resource id and a label; Prefect
offers no API to delete events, they age out with the server's event retention.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import ssl
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import gevent
import websocket
from locust import FastHttpUser, User, constant_pacing, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

CONFIG: dict[str, Any] = json.loads(open(os.environ["READINESS_LOAD_CONFIG"]).read())  # noqa: SIM115
PREFIX: str = CONFIG["prefix"]  # e.g. /api, or /api/accounts/<a>/workspaces/<w>
TAG: str = CONFIG["tag"]
POOL: str = CONFIG["work_pool"]
FLOW_ID: str = CONFIG["flow_id"]
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("READINESS_LOAD_AUTHORIZATION"):
    HEADERS["Authorization"] = os.environ["READINESS_LOAD_AUTHORIZATION"]
_CA_BUNDLE = os.environ.get("READINESS_LOAD_CA_BUNDLE") or None


def _ssl_context(*_: Any, **__: Any) -> ssl.SSLContext:
    """Verifying TLS with the configured CA bundle (or the system store)."""
    return gevent.ssl.create_default_context(cafile=_CA_BUNDLE)


def _now(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat()


class PrefectUser(FastHttpUser):
    abstract = True
    insecure = False
    ssl_context_factory = staticmethod(_ssl_context)
    # The API URL's scheme and host come from --host; every path carries the API prefix.

    def call(self, cls: str, method: str, path: str, body: Any = None, name: str | None = None) -> Any:
        """One API request named `<class> <METHOD> <path template>`; returns the decoded JSON or None."""
        label = f"{cls} {method} {name or path}"
        with self.client.request(method, PREFIX + path, data=None if body is None else json.dumps(body),
                                 headers=HEADERS, name=label, catch_response=True) as response:  # fmt: skip
            if response.status_code >= 400 or response.status_code == 0:
                response.failure(f"{response.status_code}")
                return None
            try:
                return response.json() if response.content else None
            except ValueError:
                return None


class WorkerUser(PrefectUser):
    """A Prefect worker: polls its pool for scheduled runs, heartbeats now and then."""

    weight = int(CONFIG["weights"].get("worker", 1))
    wait_time = constant_pacing(float(CONFIG["pacing"].get("worker_poll_s", 10)))

    def on_start(self) -> None:
        self.name = f"readiness-load-{TAG}-{uuid.uuid4().hex[:8]}"
        self.heartbeat()

    @task(3)
    def poll(self) -> None:
        body = {"work_queue_names": [], "scheduled_before": _now(10), "limit": 10}
        self.call("poll", "POST", f"/work_pools/{POOL}/get_scheduled_flow_runs", body,
                  name="/work_pools/{pool}/get_scheduled_flow_runs")  # fmt: skip

    @task(1)
    def heartbeat(self) -> None:
        body = {"name": self.name, "heartbeat_interval_seconds": 30}
        self.call("poll", "POST", f"/work_pools/{POOL}/workers/heartbeat", body,
                  name="/work_pools/{pool}/workers/heartbeat")  # fmt: skip


class FlowRunUser(PrefectUser):
    """A flow run through its life: created, PENDING, RUNNING, log batches, read back, COMPLETED."""

    weight = int(CONFIG["weights"].get("flow_run", 1))
    wait_time = constant_pacing(float(CONFIG["pacing"].get("flow_run_s", 2)))

    @task
    def lifecycle(self) -> None:
        run = self.call("write", "POST", "/flow_runs/", {
            "flow_id": FLOW_ID, "name": f"{TAG}-{uuid.uuid4().hex[:8]}", "tags": [TAG, "readiness-load"],
        })  # fmt: skip
        if not run:
            return
        run_path = f"/flow_runs/{run['id']}"
        for state in ("PENDING", "RUNNING"):
            self.call("write", "POST", f"{run_path}/set_state", {"state": {"type": state}},
                      name="/flow_runs/{id}/set_state")  # fmt: skip
        logs = [
            {"name": "readiness.load", "level": 20, "message": f"load log line {i}", "timestamp": _now(),
             "flow_run_id": run["id"]}
            for i in range(int(CONFIG["pacing"].get("log_batch", 10)))
        ]  # fmt: skip
        self.call("write", "POST", "/logs/", logs)
        self.call("read", "GET", run_path, name="/flow_runs/{id}")
        self.call("write", "POST", f"{run_path}/set_state", {"state": {"type": "COMPLETED"}},
                  name="/flow_runs/{id}/set_state")  # fmt: skip


class UIUser(PrefectUser):
    """Someone with the dashboard open: counts, filters, pagination, history, events, logs."""

    weight = int(CONFIG["weights"].get("ui", 1))
    wait_time = constant_pacing(float(CONFIG["pacing"].get("ui_s", 1)))

    @task(3)
    def dashboard(self) -> None:
        self.call("read", "POST", "/flow_runs/count", {})
        self.call("read", "POST", "/task_runs/count", {})
        self.call("read", "POST", "/ui/flow_runs/history", {
            "sort": "EXPECTED_START_TIME_DESC", "limit": 50, "offset": 0,
            "flow_runs": {"expected_start_time": {"after_": _now(-3600)}},
        })  # fmt: skip
        self.call("read", "POST", "/work_pools/filter", {"limit": 20})

    @task(2)
    def runs_page(self) -> None:
        self.call("read", "POST", "/flow_runs/paginate", {"page": random.randint(1, 3), "limit": 20,
                                                           "sort": "START_TIME_DESC"})  # fmt: skip
        self.call("read", "POST", "/flow_runs/filter", {"limit": 50, "sort": "EXPECTED_START_TIME_DESC"})
        self.call("read", "POST", "/flows/filter", {"limit": 20})
        self.call("read", "POST", "/deployments/paginate", {"page": 1, "limit": 20})

    @task(1)
    def events_and_logs(self) -> None:
        self.call("read", "POST", "/events/filter", {"filter": {"occurred": {"since": _now(-3600)}}, "limit": 50})
        self.call("read", "POST", "/logs/filter", {"limit": 50, "sort": "TIMESTAMP_DESC"})


def _ws_url(path: str) -> str:
    host = CONFIG["host"]
    scheme = "wss" if host.startswith("https://") else "ws"
    return f"{scheme}://{host.split('://', 1)[1]}{PREFIX}{path}"


def _fire(name: str, started: float, length: int = 0, exception: BaseException | None = None) -> None:
    """Report one websocket send or delivery to Locust's statistics (request type WS)."""
    events.request.fire(request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000,
                        response_length=length, exception=exception, context={})  # fmt: skip


#: what one flow run and its worker emit (named under prefect-readiness.load., so no automation on a live
#: install mistakes them for real flow runs' events)
EVENT_KINDS = tuple(f"prefect-readiness.load.{kind}" for kind in (
    "worker.submitted-flow-run", "flow-run.Pending", "flow-run.Running", "task-run.Completed", "flow-run.Completed",
))  # fmt: skip


class EventsUser(User):
    """A worker and its flow runs' event stream, as Prefect's client sends it: one websocket to
    /api/events/in kept open (subprotocol `prefect`, an auth message first), events sent at the profile's
    pace; and a subscriber on /api/events/out, filtered to this user's resource, that times each delivery.

    Reported as `events WS /events/in send` (the send) and `events WS /events/out delivery` (from the send
    to its arrival on /out, which includes Prefect's publish batching); a refused or broken websocket is a
    failed `events WS /events/in connect` (or `/events/out connect`) on every attempt."""

    weight = int(CONFIG["weights"].get("events", 0))
    wait_time = constant_pacing(float(CONFIG["pacing"].get("events_s", 1)))
    delivery_timeout_s = float(CONFIG["pacing"].get("delivery_timeout_s", 20))

    def on_start(self) -> None:
        self.resource = f"prefect-readiness.load.{TAG}.{uuid.uuid4().hex[:8]}"
        self.inbound: websocket.WebSocket | None = None
        self.outbound: websocket.WebSocket | None = None
        self.pending: dict[str, tuple[float, str]] = {}  # event id -> (first sent, the event as sent)
        self.reader: gevent.Greenlet | None = None

    def _open(self, path: str) -> websocket.WebSocket | None:
        name = f"events WS /events/{path.rsplit('/', 1)[-1]} connect"
        started = time.perf_counter()
        header = [f"Authorization: {HEADERS['Authorization']}"] if "Authorization" in HEADERS else []
        token = _auth_token()
        try:
            ws = websocket.create_connection(
                _ws_url(path), subprotocols=["prefect"], header=header, timeout=10,
                sslopt={"ca_certs": _CA_BUNDLE} if _CA_BUNDLE else {},
            )  # fmt: skip
            ws.send(json.dumps({"type": "auth", "token": token}))
            reply = json.loads(ws.recv())
            if reply.get("type") != "auth_success":
                ws.close()
                raise ConnectionError(f"auth refused: {reply.get('reason') or reply.get('type')}")
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            _fire(name, started, exception=exc)
            return None
        _fire(name, started)
        return ws

    def _connect(self) -> bool:
        if self.outbound is None:
            self.outbound = self._open("/events/out")
            if self.outbound is None:
                return False
            now = datetime.now(UTC)
            self.outbound.send(json.dumps({"type": "filter", "backfill": bool(self.pending), "filter": {
                "resource": {"id_prefix": [self.resource]},
                "occurred": {"since": (now - timedelta(minutes=1)).isoformat(),
                             "until": (now + timedelta(days=1)).isoformat()},
            }}))  # fmt: skip
            self.reader = gevent.spawn(self._read, self.outbound)
        if self.inbound is None:
            self.inbound = self._open("/events/in")
            if self.inbound is not None and self.pending:
                # as Prefect's client after a reconnect: send again what was not confirmed (here: delivered);
                # Prefect drops duplicates by event id
                try:
                    for _, body in list(self.pending.values()):
                        self.inbound.send(body)
                except (OSError, websocket.WebSocketException):
                    self.inbound = None
        return self.inbound is not None

    def _read(self, ws: websocket.WebSocket) -> None:
        ws.settimeout(None)
        while True:
            try:
                message = json.loads(ws.recv())
            except (OSError, websocket.WebSocketException, ValueError):
                # as Prefect's subscriber: reconnect (next task) with a backfill; what never arrives is a
                # failed delivery once delivery_timeout_s has passed
                if self.outbound is ws:
                    self.outbound = None
                return
            event_id = (message.get("event") or {}).get("id") if isinstance(message, dict) else None
            pending = self.pending.pop(event_id, None) if event_id else None
            if pending is not None:
                _fire("events WS /events/out delivery", pending[0], length=len(json.dumps(message)))

    @task
    def send_events(self) -> None:
        if not self._connect() or self.inbound is None:
            return
        now = time.perf_counter()
        for event_id, (sent, _) in list(self.pending.items()):  # never delivered: a lost event
            if now - sent > self.delivery_timeout_s:
                del self.pending[event_id]
                _fire("events WS /events/out delivery", sent,
                      exception=TimeoutError(f"not delivered within {self.delivery_timeout_s:g} s"))  # fmt: skip
        # one flow run's state changes and a worker's poll, as a worker and its flow runs emit them
        for kind in EVENT_KINDS:
            event_id = str(uuid.uuid4())
            body = json.dumps({
                "id": event_id, "occurred": _now(), "event": kind,
                "resource": {"prefect.resource.id": self.resource, "prefect.resource.name": f"load {TAG}",
                             "prefect-readiness.run": TAG},
                "related": [], "payload": {},
            })  # fmt: skip
            started = time.perf_counter()
            self.pending[event_id] = (started, body)  # resent with the others if /in has to reconnect
            try:
                self.inbound.send(body)
            except (OSError, websocket.WebSocketException) as exc:
                # as Prefect's client: reconnect once (which sends the unconfirmed events again)
                self.inbound = None
                if not self._connect():
                    del self.pending[event_id]
                    _fire("events WS /events/in send", started, exception=exc)
                    return
            _fire("events WS /events/in send", started, length=len(body))

    def on_stop(self) -> None:
        if self.inbound is not None:
            with contextlib.suppress(Exception):
                self.inbound.close()  # Prefect publishes what a closing /in sent at once
        deadline = time.monotonic() + 3
        while self.pending and self.outbound is not None and time.monotonic() < deadline:
            gevent.sleep(0.1)
        self.pending.clear()
        outbound, self.outbound = self.outbound, None
        if outbound is not None:
            with contextlib.suppress(Exception):
                outbound.close()
        if self.reader is not None:
            self.reader.kill(block=False)


def _auth_token() -> str | None:
    """What the `prefect` subprotocol's auth message carries: the auth string (basic) or the API key (bearer)."""
    value = HEADERS.get("Authorization", "")
    scheme, _, credential = value.partition(" ")
    if scheme.lower() == "basic":
        return base64.b64decode(credential).decode()
    return credential or None


# -- on the master: the safety brake, a time series per endpoint class, the statistics file -------------
CLASSES = ("poll", "write", "read", "events")
_history: list[dict[str, Any]] = []
_brake: dict[str, Any] = {"stopped": False}
#: the most workers the master saw at once (at quitting they may already have said goodbye)
_workers_seen = {"max": 0}


def _class_of(name: str) -> str:
    return name.split(" ", 1)[0]


def _sample(environment: Environment, started: float) -> dict[str, Any]:
    stats = environment.stats
    point: dict[str, Any] = {"t": round(time.monotonic() - started, 1), "users": environment.runner.user_count}
    total = stats.total
    point["rps"] = round(total.current_rps, 2)
    point["fail_ratio"] = round(total.fail_ratio, 4)
    for cls in CLASSES:
        entries = [e for (name, _), e in stats.entries.items() if _class_of(name) == cls]
        point[f"{cls}_rps"] = round(sum(e.current_rps for e in entries), 2)
        p95 = [e.get_current_response_time_percentile(0.95) or 0 for e in entries]
        point[f"{cls}_p95_ms"] = round(max(p95, default=0), 1)
    return point


def _brake_loop(environment: Environment) -> None:
    limits = CONFIG["brake"]
    started = time.monotonic()
    while True:
        gevent.sleep(1.0)
        if isinstance(environment.runner, MasterRunner):
            _workers_seen["max"] = max(_workers_seen["max"], len(environment.runner.clients))
        point = _sample(environment, started)
        _history.append(point)
        total = environment.stats.total
        if total.num_requests < int(limits.get("min_requests", 50)):
            continue
        reason = None
        if total.fail_ratio > float(limits["max_error_ratio"]):
            reason = f"error ratio {total.fail_ratio:.1%} above the brake limit {float(limits['max_error_ratio']):.1%}"
        current_p95 = total.get_current_response_time_percentile(0.95) or 0
        if reason is None and current_p95 > float(limits["max_p95_ms"]):
            reason = f"p95 latency {current_p95:.0f} ms above the brake limit {float(limits['max_p95_ms']):.0f} ms"
        if reason:
            _brake.update(stopped=True, reason=reason, at=datetime.now(UTC).isoformat(timespec="seconds"),
                          after_s=point["t"], requests=total.num_requests)  # fmt: skip
            environment.runner.quit()
            return


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_brake_loop, environment)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    entries = []
    for (name, method), entry in environment.stats.entries.items():
        entries.append({
            "name": name, "method": method, "class": _class_of(name), "requests": entry.num_requests,
            "failures": entry.num_failures, "total_ms": entry.total_response_time,
            "response_times": {str(k): v for k, v in entry.response_times.items()},
            "start": entry.start_time, "last": entry.last_request_timestamp,
        })  # fmt: skip
    errors = [{"name": e.name, "method": e.method, "error": str(e.error)[:200], "count": e.occurrences}
              for e in environment.stats.errors.values()]  # fmt: skip
    is_master = isinstance(environment.runner, MasterRunner)
    out = {"entries": entries, "errors": errors, "history": _history, "brake": _brake,
           "workers": max(_workers_seen["max"], len(environment.runner.clients)) if is_master else 0}  # fmt: skip
    with open(CONFIG["stats_file"], "w") as handle:
        json.dump(out, handle)
