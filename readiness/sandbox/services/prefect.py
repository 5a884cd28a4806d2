"""A real Prefect 3 server on the sandbox PostgreSQL and Redis, with basic auth, a process work pool,
a process worker and a ready-made deployment so a flow run can complete end to end.

The server listens on loopback; users reach it only through the ingress (``api.``/``app.`` names).
The worker talks to the server directly, as an in-cluster worker talks to the Service.
Scenarios:

- ``prefect-no-auth``: the server restarts without PREFECT_SERVER_API_AUTH_STRING (API open);
- ``prefect-slow``: a latency proxy (``latency_proxy``) goes between the ingress and the server;
- ``prefect-errors``: the same proxy answers a share of the API requests 503 itself (health and ready
  pass untouched);
- ``prefect-worker-down``: the process worker is stopped, so flow runs stay SCHEDULED;
- ``worker-no-heartbeat``: the worker Deployment stays Available (the helm layout's verdict tests use it there), but
  no worker polls the pool: the process worker is stopped and its last heartbeat put an hour back;
- ``ui-api-url-internal``: the server restarts with PREFECT_UI_API_URL=http://127.0.0.1:4200/api;
- ``prefect-restart-during-load``: when a load run starts, the server process is restarted (a standby takes
  over behind the ingress) and the prefect-server pod's restart count goes up (``prefect_restart``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from readiness.sandbox.base import (
    CACHE_ROOT,
    Component,
    ComponentStatus,
    SandboxContext,
    SandboxError,
    port_is_open,
    wait_until,
)
from readiness.sandbox.services.common import LOOPBACK, PREFECT_API_USER, PREFECT_WORK_POOL, prefect_auth_string

API_USER = PREFECT_API_USER
WORK_POOL = PREFECT_WORK_POOL
FLOW_NAME = "readiness-probe"
DEPLOYMENT_NAME = "sandbox"
SLOW_DELAY_MS = 2000
ERROR_RATIO = 0.25
UI_CACHE = CACHE_ROOT / "prefect-ui"
#: state key the ingress reads to find where to send API traffic
UPSTREAM_KEY = "prefect_upstream_port"
#: ui-api-url-internal: what a chart left at its default hands the browser
INTERNAL_UI_API_URL = "http://127.0.0.1:4200/api"

#: prefect-restart-during-load: the pods whose container restart count goes up
POD_SELECTOR = "app.kubernetes.io/name=prefect-server"
POD_NAMESPACE = "prefect"

PROBE_FLOW = '''\
"""A flow the readiness suite runs end to end through the sandbox work pool."""

from prefect import flow


@flow(name="readiness-probe", log_prints=True)
def readiness_probe(message: str = "ready") -> str:
    print(f"readiness probe says {message}")
    return message
'''


class PrefectComponent(Component):
    name = "prefect"
    after = ("postgres", "redis")
    scenarios = {
        "prefect-no-auth": "the API answers without credentials (basic auth off)",
        "prefect-slow": f"a proxy adds {SLOW_DELAY_MS} ms to every API request through the ingress",
        "prefect-db-down": "the Prefect server's PostgreSQL is stopped: the API is live but not ready",
        "prefect-errors": f"a proxy answers {ERROR_RATIO:.0%} of the API requests through the ingress with 503",
        "prefect-worker-down": "the process worker is stopped: flow runs of the work pool are never picked up",
        "ui-api-url-internal": f"the Prefect server hands the browser {INTERNAL_UI_API_URL} as the API URL",
        "prefect-restart-during-load": "the Prefect server restarts a few seconds into a load run (its pod's "
        "restart count goes up)",
        "worker-no-heartbeat": "the worker Deployment stays Available but no worker polls the work pool (its last "
        "heartbeat an hour ago)",
    }
    #: how long ago worker-no-heartbeat's worker last beat
    STALE_HEARTBEAT_S = 3600

    @property
    def port(self) -> int:
        return self.ctx.port("prefect")

    @property
    def slow_port(self) -> int:
        return self.ctx.port("prefect-slow-proxy")

    @property
    def fault_port(self) -> int:
        return self.ctx.port("prefect-fault-proxy")

    def auth_string(self) -> str:
        return prefect_auth_string(self.ctx)

    def _auth_file(self) -> Path:
        path = self.ctx.secret_path("prefect-api-auth-string")
        path.write_text(self.auth_string())
        path.chmod(0o600)
        return path

    @property
    def internal_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/api"

    def upstream_port(self) -> int:
        active = self.ctx.active_scenarios()
        if "prefect-slow" in active:
            return self.slow_port
        return self.fault_port if "prefect-errors" in active else self.port

    # -- processes ---------------------------------------------------------------------------------
    def _common_env(self) -> dict[str, str]:
        home = self.ctx.data_dir("prefect") / "home"
        home.mkdir(exist_ok=True)
        return {
            "PREFECT_HOME": str(home),
            "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
            "PREFECT_API_URL": self.internal_url,
            "PREFECT_API_AUTH_STRING": self.auth_string(),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "DO_NOT_TRACK": "1",
        }

    def _server_env(self) -> dict[str, str]:
        from readiness.sandbox.services.postgres import PostgresComponent
        from readiness.sandbox.services.redis import RedisComponent

        pg = PostgresComponent(self.ctx)
        redis = RedisComponent(self.ctx)
        active = self.ctx.active_scenarios()
        env = self._common_env()
        env.update(
            {
                "PREFECT_SERVER_API_HOST": LOOPBACK,
                "PREFECT_SERVER_API_PORT": str(self.port),
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": pg.sqlalchemy_url(),
                "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
                "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
                "PREFECT_REDIS_MESSAGING_HOST": LOOPBACK,
                "PREFECT_REDIS_MESSAGING_PORT": str(redis.port),
                "PREFECT_REDIS_MESSAGING_DB": "0",
                # username + password: AUTH default <pw> keeps working while redis-noauth is applied
                "PREFECT_REDIS_MESSAGING_USERNAME": "default",
                "PREFECT_REDIS_MESSAGING_PASSWORD": redis.password(),
                "PREFECT_UI_API_URL": INTERNAL_UI_API_URL if "ui-api-url-internal" in active else "/api",
                # the UI bundle Prefect copies and rewrites on start, kept across sandboxes
                "PREFECT_UI_STATIC_DIRECTORY": str(UI_CACHE),
                "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            }
        )
        if "prefect-no-auth" not in active:
            env["PREFECT_SERVER_API_AUTH_STRING"] = self.auth_string()
        return env

    def _client(self, timeout: float = 5.0) -> httpx.Client:
        user, _, password = self.auth_string().partition(":")
        return httpx.Client(base_url=self.internal_url, auth=(user, password), timeout=timeout)

    def _ready(self) -> bool:
        if not port_is_open(self.port):
            return False
        try:
            with self._client(timeout=2) as client:
                return client.get("/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _start_server(self) -> None:
        self._spawn_server()
        self._wait_ready()

    def _wait_ready(self) -> None:
        wait_until(self._ready, 120, "Prefect server /api/ready", self.ctx.log_path("prefect-server"))

    def _spawn_server(self, name: str = "prefect-server", port: int | None = None) -> None:
        self.ctx.spawn(
            name,
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                LOOPBACK,
                "--port",
                str(port or self.port),
                "--analytics-off",
            ],
            env={**self._server_env(), "PREFECT_SERVER_API_PORT": str(port or self.port)},
            cwd=self.ctx.data_dir("prefect"),
        )

    def _flows_dir(self) -> Path:
        flows = self.ctx.data_dir("prefect") / "flows"
        flows.mkdir(exist_ok=True)
        probe = flows / "readiness_probe.py"
        if not probe.exists() or probe.read_text() != PROBE_FLOW:
            probe.write_text(PROBE_FLOW)
        return flows

    def _ensure_objects(self) -> None:
        """The work pool and a deployment of the probe flow (idempotent)."""
        with self._client(timeout=15) as client:
            if client.get(f"/work_pools/{WORK_POOL}").status_code == 404:
                resp = client.post("/work_pools/", json={"name": WORK_POOL, "type": "process"})
                if resp.status_code not in (200, 201, 409):
                    raise SandboxError(f"creating work pool {WORK_POOL}: {resp.status_code} {resp.text[:300]}")
            flow = client.post("/flows/", json={"name": FLOW_NAME})
            flow.raise_for_status()
            resp = client.post(
                "/deployments/",
                json={
                    "name": DEPLOYMENT_NAME,
                    "flow_id": flow.json()["id"],
                    "work_pool_name": WORK_POOL,
                    "entrypoint": "readiness_probe.py:readiness_probe",
                    "pull_steps": [
                        {"prefect.deployments.steps.set_working_directory": {"directory": str(self._flows_dir())}}
                    ],
                    "tags": ["readiness-sandbox"],
                },
            )
            if resp.status_code not in (200, 201):
                raise SandboxError(f"creating the probe deployment: {resp.status_code} {resp.text[:300]}")

    def _start_worker(self) -> None:
        self.ctx.spawn(
            "prefect-worker",
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                WORK_POOL,
                "--type",
                "process",
                "--name",
                "sandbox-worker",
            ],
            env={**self._common_env(), "PREFECT_WORKER_QUERY_SECONDS": "5", "PREFECT_WORKER_HEARTBEAT_SECONDS": "5"},
            cwd=self.ctx.data_dir("prefect"),
        )

    def _start_proxy(self, name: str, port: int, delay_ms: int, error_ratio: float) -> None:
        module = "readiness.sandbox.services.latency_proxy"
        args = [str(port), str(self.port), str(delay_ms), str(error_ratio)]
        self.ctx.spawn(name, [sys.executable, "-m", module, *args])
        wait_until(lambda: port_is_open(port), 15, name, self.ctx.log_path(name))

    def _start_slow_proxy(self) -> None:
        self._start_proxy("prefect-slow-proxy", self.slow_port, SLOW_DELAY_MS, 0.0)

    def _start_fault_proxy(self) -> None:
        self._start_proxy("prefect-fault-proxy", self.fault_port, 0, ERROR_RATIO)

    def worker_online(self) -> bool:
        try:
            with self._client() as client:
                resp = client.post(f"/work_pools/{WORK_POOL}/workers/filter", json={})
                return resp.status_code == 200 and any(w.get("status") == "ONLINE" for w in resp.json())
        except httpx.HTTPError:
            return False

    # -- lifecycle ---------------------------------------------------------------------------------
    def up(self) -> None:
        """Launch the server; `finish` waits for it, so the components after this one start meanwhile."""
        self._auth_file()
        self.ctx.set(UPSTREAM_KEY, self.upstream_port())  # the ingress, next, reads it
        if not (self.ctx.is_running("prefect-server") and self._ready()):
            self.ctx.stop("prefect-server")
            self._spawn_server()

    def finish(self) -> None:
        self._wait_ready()
        self._ensure_objects()
        self._start_worker()
        active = self.ctx.active_scenarios()
        if "prefect-slow" in active:
            self._start_slow_proxy()
        if "prefect-errors" in active:
            self._start_fault_proxy()
        if "prefect-worker-down" in active:
            self.ctx.stop("prefect-worker", timeout=15)
        if "worker-no-heartbeat" in active:
            self._silence_worker()

    def down(self) -> None:
        for name in (
            "prefect-restarter",
            "prefect-worker",
            "prefect-slow-proxy",
            "prefect-fault-proxy",
            "prefect-server-standby",
            "prefect-server",
        ):
            self.ctx.stop(name, timeout=15)
        self.ctx.set(UPSTREAM_KEY, self.port)

    def status(self) -> ComponentStatus:
        active = self.ctx.active_scenarios()
        ready = self.ctx.is_running("prefect-server") and self._ready()
        worker = self.ctx.is_running("prefect-worker")
        detail = f"server {self.internal_url} {'ready' if ready else 'not ready'}; "
        detail += f"worker {'up' if worker else 'down'}"
        procs = [self.ctx.process_status(n) for n in ("prefect-server", "prefect-worker")]
        if "prefect-slow" in active:
            procs.append(self.ctx.process_status("prefect-slow-proxy"))
        if "prefect-errors" in active:
            procs.append(self.ctx.process_status("prefect-fault-proxy"))
        worker_expected = not {"prefect-worker-down", "worker-no-heartbeat"} & set(active)
        return ComponentStatus(self.name, ready and (worker or not worker_expected), detail, procs)

    def targets(self) -> dict[str, object]:
        return {
            "prefect": {
                "auth_string_file": str(self._auth_file()),
                "deployment": f"{FLOW_NAME}/{DEPLOYMENT_NAME}",
                "work_pool": WORK_POOL,
            }
        }

    def env(self) -> dict[str, str]:
        return {
            "READINESS_PREFECT_AUTH_STRING_FILE": str(self._auth_file()),
            "READINESS_PREFECT_WORK_POOL": WORK_POOL,
            "READINESS_PREFECT_DEPLOYMENT": f"{FLOW_NAME}/{DEPLOYMENT_NAME}",
            "READINESS_PREFECT_INTERNAL_URL": self.internal_url,
            "PREFECT_API_AUTH_STRING": self.auth_string(),
        }

    # -- scenarios ---------------------------------------------------------------------------------

    @property
    def standby_port(self) -> int:
        return self.ctx.port("prefect-standby")

    def _start_standby(self) -> None:
        """prefect-restart-during-load: the process that takes over (same database, same settings)."""
        self._spawn_server("prefect-server-standby", self.standby_port)
        wait_until(lambda: port_is_open(self.standby_port), 120, "standby Prefect server",
                   self.ctx.log_path("prefect-server-standby"))  # fmt: skip
        self.ctx.spawn("prefect-restarter", [sys.executable, "-m", "readiness.sandbox.services.prefect_restart",
                                             str(self.ctx.root)])  # fmt: skip

    def hand_over_to_standby(self) -> None:
        """The restart: the ingress sends the API to the standby, then the first process stops."""
        from readiness.sandbox.services.ingress import IngressComponent

        self.ctx.set(UPSTREAM_KEY, self.standby_port)
        IngressComponent(self.ctx).reconfigure()
        time.sleep(1.0)  # requests under way on the old upstream finish
        self.ctx.stop("prefect-server", timeout=15)

    def _end_restart(self) -> None:
        self.ctx.stop("prefect-restarter")
        if not (self.ctx.is_running("prefect-server") and self._ready()):
            self.ctx.stop("prefect-server")
            self._start_server()
        self._reroute()
        time.sleep(0.5)
        self.ctx.stop("prefect-server-standby", timeout=15)
        set_restart_count(self.ctx, 0)  # the sandbox's pods are fresh again
        self._refresh_worker()

    def _restart_server(self) -> None:
        self.ctx.stop("prefect-server", timeout=15)
        wait_until(lambda: not port_is_open(self.port), 15, "Prefect port to close")
        self._start_server()
        self._refresh_worker()

    def _refresh_worker(self) -> None:
        """A worker that lost the server backs off for a minute; start it afresh so flow runs flow again."""
        if self.ctx.is_running("prefect-worker"):
            self.ctx.stop("prefect-worker", timeout=15)
            self._start_worker()

    def _reroute(self) -> None:
        self.ctx.set(UPSTREAM_KEY, self.upstream_port())
        from readiness.sandbox.services.ingress import IngressComponent

        ingress = IngressComponent(self.ctx)
        if ingress.running():
            ingress.reconfigure()

    def _silence_worker(self) -> None:
        """worker-no-heartbeat: stop the worker process, then date its last heartbeat back in Prefect's database, as
        an hour after it stopped (the API lists it with that heartbeat, OFFLINE as Prefect marks it by then)."""
        from readiness.sandbox.services.postgres import DATABASE, PostgresComponent

        self.ctx.stop("prefect-worker", timeout=15)
        PostgresComponent(self.ctx).admin_sql(
            "UPDATE worker SET last_heartbeat_time = now() - make_interval(secs => %s), status = 'OFFLINE' "
            "WHERE work_pool_id = (SELECT id FROM work_pool WHERE name = %s)",
            (self.STALE_HEARTBEAT_S, WORK_POOL),
            dbname=DATABASE,
        )

    def apply(self, scenario: str) -> None:
        if scenario in ("prefect-no-auth", "ui-api-url-internal"):
            self._restart_server()
        elif scenario == "prefect-slow":
            self._start_slow_proxy()
            self._reroute()
        elif scenario == "prefect-db-down":
            from readiness.sandbox.services.postgres import PostgresComponent

            PostgresComponent(self.ctx).down()
        elif scenario == "prefect-errors":
            self._start_fault_proxy()
            self._reroute()
        elif scenario == "prefect-worker-down":
            self.ctx.stop("prefect-worker", timeout=15)
        elif scenario == "prefect-restart-during-load":
            self._start_standby()
        elif scenario == "worker-no-heartbeat":
            self._silence_worker()
        else:
            super().apply(scenario)

    def revert(self, scenario: str) -> None:
        if scenario in ("prefect-no-auth", "ui-api-url-internal"):
            self._restart_server()
        elif scenario == "prefect-slow":
            self._reroute()
            time.sleep(0.2)
            self.ctx.stop("prefect-slow-proxy")
        elif scenario == "prefect-db-down":
            from readiness.sandbox.services.postgres import PostgresComponent

            PostgresComponent(self.ctx).up()
            self._wait_ready()
            self._refresh_worker()
        elif scenario == "prefect-errors":
            self._reroute()
            time.sleep(0.2)
            self.ctx.stop("prefect-fault-proxy")
        elif scenario in ("prefect-worker-down", "worker-no-heartbeat"):
            self._start_worker()
            wait_until(self.worker_online, 60, "Prefect worker online", self.ctx.log_path("prefect-worker"))
        elif scenario == "prefect-restart-during-load":
            self._end_restart()
        else:
            super().revert(scenario)


def set_restart_count(ctx: SandboxContext, count: int | None) -> list[str]:
    """Set (or raise by one, when `count` is None) the prefect-server pods' first container's restartCount.
    Returns the pods touched; nothing when the sandbox runs no Kubernetes."""
    from readiness.sandbox.kubernetes.component import KubernetesComponent
    from readiness.sandbox.kubernetes.kube import Ref

    kubernetes = KubernetesComponent(ctx)
    if "kubernetes" not in (ctx.get("started", []) or []) or not kubernetes.kubeconfig.exists():
        return []
    kube = kubernetes.kube()
    touched = []
    for pod in kube.list(Ref("v1", "Pod", namespace=POD_NAMESPACE, label_selector=POD_SELECTOR)):
        statuses = list(pod.get("status", {}).get("containerStatuses") or [])
        if not statuses:
            continue
        first = dict(statuses[0])
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if count is None:
            first["restartCount"] = int(first.get("restartCount", 0)) + 1
            first["lastState"] = {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": now,
                                                 "finishedAt": now}}  # fmt: skip
            first["state"] = {"running": {"startedAt": now}}
        else:
            first["restartCount"] = count
            first["lastState"] = {}
        statuses[0] = first
        ref = Ref("v1", "Pod", name=pod["metadata"]["name"], namespace=POD_NAMESPACE)
        kube.patch(ref, {"status": {"containerStatuses": statuses}}, "merge", "status")
        touched.append(pod["metadata"]["name"])
    return touched
