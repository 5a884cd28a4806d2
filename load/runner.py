"""Drive the Locust workload from outside Locust: prepare, run master + workers, read, clean up.

Locust runs in its own processes (a master and N local worker processes, or standalone when N is 0):
gevent monkey-patches the process it runs in, so it never runs inside pytest. The runner creates the
objects the workload needs (a work pool and a flow, both named and tagged with the run tag), hands the
workload its configuration through a file and the environment (credentials never on a command line),
waits a bounded time, reads the master's statistics file, and removes everything tagged with the run,
also when the run fails or is interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from readiness.core.expect import CheckError
from readiness.core.process import popen_tied
from readiness.probes.prefect import PrefectAPI

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CLASSES = ("poll", "write", "read", "events")


@dataclass(frozen=True)
class LoadShape:
    """How much load, for how long, from how many Locust processes (the profile's LOAD-THROUGHPUT params)."""

    users: int
    spawn_rate: float
    duration_s: float
    workers: int = 1
    weights: dict[str, int] = field(default_factory=lambda: {"worker": 1, "flow_run": 1, "ui": 1})
    pacing: dict[str, float] = field(default_factory=dict)
    brake: dict[str, float] = field(default_factory=lambda: {"max_error_ratio": 0.2, "max_p95_ms": 10000})

    @classmethod
    def from_params(cls, params: dict[str, Any], workers: int | None = None) -> LoadShape:
        shape = dict(params.get("shape") or {})
        return cls(
            users=int(shape.get("users", 10)),
            spawn_rate=float(shape.get("spawn_rate", 5)),
            duration_s=float(shape.get("duration_s", 30)),
            workers=int(workers if workers is not None else shape.get("workers", 1)),
            weights={k: int(v) for k, v in (params.get("weights") or {"worker": 1, "flow_run": 1, "ui": 1}).items()},
            pacing={k: float(v) for k, v in (params.get("pacing") or {}).items()},
            brake={
                k: float(v) for k, v in (params.get("brake") or {"max_error_ratio": 0.2, "max_p95_ms": 10000}).items()
            },
        )


@dataclass(frozen=True)
class Percentiles:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float


@dataclass(frozen=True)
class EndpointStats(Percentiles):
    name: str = ""
    endpoint_class: str = ""


@dataclass
class LoadResult:
    """The statistics of one load run, per endpoint and per endpoint class, and how it ended."""

    tag: str
    shape: LoadShape
    seconds: float
    endpoints: list[EndpointStats]
    classes: dict[str, Percentiles]
    total: Percentiles
    history: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    brake: dict[str, Any]
    workers_connected: int
    cleanup: dict[str, Any] = field(default_factory=dict)

    @property
    def error_ratio(self) -> float:
        return round(self.total.failures / self.total.requests, 4) if self.total.requests else 0.0

    @property
    def stopped_by_brake(self) -> bool:
        return bool(self.brake.get("stopped"))

    def evidence(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "shape": asdict(self.shape),
            "seconds": self.seconds,
            "requests": self.total.requests,
            "failures": self.total.failures,
            "brake": self.brake,
            "errors": self.errors[:10],
            "classes": {k: asdict(v) for k, v in self.classes.items()},
        }

    def to_report(self) -> dict[str, Any]:
        """The report's `load` section."""
        return {
            "tag": self.tag,
            "shape": asdict(self.shape),
            "seconds": self.seconds,
            "workers_connected": self.workers_connected,
            "total": asdict(self.total),
            "error_ratio": self.error_ratio,
            "classes": {k: asdict(v) for k, v in self.classes.items()},
            "endpoints": [
                {
                    "name": e.name,
                    "class": e.endpoint_class,
                    "requests": e.requests,
                    "failures": e.failures,
                    "p50_ms": e.p50_ms,
                    "p95_ms": e.p95_ms,
                    "p99_ms": e.p99_ms,
                    "rps": e.rps,
                }
                for e in self.endpoints
            ],  # fmt: skip
            "history": self.history,
            "errors": self.errors[:20],
            "brake": self.brake,
            "cleanup": self.cleanup,
        }


# -- statistics ------------------------------------------------------------------------------------
def _percentile(histogram: dict[int, int], total: int, fraction: float) -> float:
    if not total:
        return 0.0
    wanted = fraction * total
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= wanted:
            return float(value)
    return float(max(histogram))


def _summarise(entries: list[dict[str, Any]], seconds: float) -> Percentiles:
    histogram: dict[int, int] = {}
    requests = failures = 0
    for entry in entries:
        requests += entry["requests"]
        failures += entry["failures"]
        for key, count in entry["response_times"].items():
            histogram[int(float(key))] = histogram.get(int(float(key)), 0) + count
    counted = sum(histogram.values())
    return Percentiles(
        requests=requests,
        failures=failures,
        p50_ms=_percentile(histogram, counted, 0.50),
        p95_ms=_percentile(histogram, counted, 0.95),
        p99_ms=_percentile(histogram, counted, 0.99),
        rps=round(requests / seconds, 2) if seconds > 0 else 0.0,
    )


def read_statistics(
    data: dict[str, Any], seconds: float
) -> tuple[list[EndpointStats], dict[str, Percentiles], Percentiles]:
    entries = data.get("entries", [])
    endpoints = []
    for entry in sorted(entries, key=lambda e: e["name"]):
        p = _summarise([entry], seconds)
        endpoints.append(EndpointStats(**asdict(p), name=entry["name"], endpoint_class=entry["class"]))
    classes = {cls: _summarise([e for e in entries if e["class"] == cls], seconds) for cls in CLASSES}
    classes = {cls: p for cls, p in classes.items() if p.requests}
    return endpoints, classes, _summarise(entries, seconds)


# -- processes -------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop one process this runner started (its own process group), politely first."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            _stop(proc)


def locust_env(authorization: str | None, config_path: Path, ca_bundle: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_LOAD_"))}
    env["READINESS_LOAD_CONFIG"] = str(config_path)
    if authorization:
        env["READINESS_LOAD_AUTHORIZATION"] = authorization
    if ca_bundle:
        env["READINESS_LOAD_CA_BUNDLE"] = ca_bundle
    return env


def run_locust(
    api_url: str,
    authorization: str | None,
    config: dict[str, Any],
    shape: LoadShape,
    workdir: Path,
    ca_bundle: str | None = None,
    locustfile: Path = LOCUSTFILE,
    cpus: str | None = None,
) -> dict[str, Any]:
    """Run the workload once (master + shape.workers worker processes) and return the master's statistics.

    `cpus` pins the Locust processes to CPUs with taskset (the benchmark uses it)."""
    parts = urlsplit(api_url)
    host = f"{parts.scheme}://{parts.netloc}"
    config = {**config, "host": host, "prefix": parts.path.rstrip("/"), "stats_file": str(workdir / "stats.json")}
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    env = locust_env(authorization, config_path, ca_bundle)
    pin = ["taskset", "-c", cpus] if cpus else []
    common = [*pin, sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "WARNING"]
    port = _free_port()
    master = [*common, "--headless", "--host", host, "--users", str(shape.users), "--spawn-rate",
              str(shape.spawn_rate), "--run-time", f"{int(shape.duration_s)}s", "--stop-timeout", "5",
              "--only-summary", "--exit-code-on-error", "0"]  # fmt: skip
    if shape.workers > 0:
        master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                   "--expect-workers", str(shape.workers), "--expect-workers-max-wait", "60"]  # fmt: skip
    log = (workdir / "locust.log").open("wb")
    deadline = shape.duration_s + 120
    with _processes() as started:
        # Own process group and a parent-death signal: a run killed outright leaves no Locust behind.
        started.append(popen_tied(master, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT))
        for _ in range(shape.workers):
            worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            started.append(popen_tied(worker, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT))
        try:
            code = started[0].wait(deadline)
        except subprocess.TimeoutExpired:
            raise CheckError(f"Locust did not finish within {deadline:.0f} s; see {workdir / 'locust.log'}") from None
    log.close()
    stats_file = workdir / "stats.json"
    if not stats_file.exists():
        tail = (workdir / "locust.log").read_text(errors="replace")[-600:]
        raise CheckError(f"Locust exited with {code} and wrote no statistics: {tail.strip()}")
    return json.loads(stats_file.read_text())


def run_load(api: PrefectAPI, tag: str, shape: LoadShape, workdir: Path | None = None,
             ca_bundle: str | None = None) -> LoadResult:  # fmt: skip
    """Prepare the run's objects, run the workload, read its statistics; remove everything tagged `tag`."""
    own_dir = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="readiness-load-")) if workdir is None else workdir
    folder.mkdir(parents=True, exist_ok=True)
    pool = f"readiness-load-{tag}"
    result: LoadResult | None = None
    try:
        api.create("/work_pools/", {"name": pool, "type": "process", "description": f"readiness load {tag}"})
        flow = api.create("/flows/", {"name": f"readiness-load-{tag}", "tags": [tag, "readiness-load"]})
        config = {"tag": tag, "work_pool": pool, "flow_id": flow["id"], "weights": shape.weights,
                  "pacing": shape.pacing, "brake": shape.brake}  # fmt: skip
        started = time.monotonic()
        data = run_locust(api.base_url, api.authorization_header(), config, shape, folder, ca_bundle)
        seconds = round(time.monotonic() - started, 1)
        brake = data.get("brake") or {"stopped": False}
        # Locust's run time is the shape's duration unless the brake stopped it earlier.
        active = float(brake.get("after_s") or shape.duration_s) if brake.get("stopped") else shape.duration_s
        endpoints, classes, total = read_statistics(data, active)
        result = LoadResult(tag=tag, shape=shape, seconds=seconds, endpoints=endpoints, classes=classes,
                            total=total, history=data.get("history", []), errors=data.get("errors", []),
                            brake=brake, workers_connected=int(data.get("workers", 0)))  # fmt: skip
        return result
    finally:
        cleaned = cleanup(api, tag)
        if result is not None:
            result.cleanup = cleaned
        if own_dir:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def cleanup(api: PrefectAPI, tag: str) -> dict[str, Any]:
    """Remove the run's flow (its runs go with it), work pool (its workers go with it) and tagged runs.

    Returns how many flows and flow runs were removed and what is still there (nothing, normally)."""
    pool = f"readiness-load-{tag}"
    outcome: dict[str, Any] = {}
    try:
        api.delete(f"/work_pools/{pool}")
        found = api.delete_tagged(tag)
        outcome["removed"] = {kind: len(ids) for kind, ids in found.items()}
        outcome["left"] = api.tagged(tag)
    except CheckError as exc:
        outcome["error"] = f"cleanup of objects tagged {tag} incomplete: {exc}"
    return outcome


# -- recovery --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recovery:
    """Health, readiness and a light read before the load, and how long after it until they are good again."""

    ready_before: bool
    read_ms_before: float
    seconds: float | None  # None: not recovered within the wait
    ready_after: bool
    read_ms_after: float
    max_read_ms: float
    evidence: dict[str, Any] = field(default_factory=dict)
    #: container restarts in the Prefect namespace during the load (None: not measured, see evidence)
    pod_restarts: int | None = None
    #: the pods that restarted during the load: `namespace/name` -> [restart count before, after]
    restarted_pods: dict[str, list[int]] = field(default_factory=dict)


def baseline(api: PrefectAPI) -> tuple[bool, float, dict[str, Any]]:
    health = api.health()
    status, ms = api.timed_read()
    ready = health.healthy and health.ready and status == 200
    return ready, ms, {"health": health.evidence, "read": {"status": status, "ms": ms}}


def measure_recovery(api: PrefectAPI, before: tuple[bool, float, dict[str, Any]], max_wait_s: float,
                     max_read_ms: float) -> Recovery:  # fmt: skip
    """Poll after the load until the API is live, ready and a light read answers within `max_read_ms`."""
    started = time.monotonic()
    deadline = started + max_wait_s
    samples: list[dict[str, Any]] = []
    ready = False
    ms = 0.0
    while True:
        try:
            health = api.health()
            status, ms = api.timed_read()
            ready = health.healthy and health.ready and status == 200
            samples.append({"t": round(time.monotonic() - started, 1), "ready": health.ready, "read_status": status,
                            "read_ms": ms})  # fmt: skip
        except CheckError as exc:
            ready = False
            samples.append({"t": round(time.monotonic() - started, 1), "error": str(exc)})
        if ready and ms <= max_read_ms:
            seconds: float | None = round(time.monotonic() - started, 1)
            break
        if time.monotonic() >= deadline:
            seconds = None
            break
        time.sleep(0.5)
    return Recovery(
        ready_before=before[0],
        read_ms_before=before[1],
        seconds=seconds,
        ready_after=ready,
        read_ms_after=ms,
        max_read_ms=max_read_ms,
        evidence={"before": before[2], "after": samples[-10:]},
    )


# -- capacity --------------------------------------------------------------------------------------
def capacity_curve(api: PrefectAPI, tag: str, shape: LoadShape, users: list[int], step_s: float, p95_ms: float,
                   ca_bundle: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Step the users up (each step a short run of the same workload) until p95 passes `p95_ms` or errors
    appear; returns the curve and the highest step that held."""
    curve: list[dict[str, Any]] = []
    held: dict[str, Any] | None = None
    for count in users:
        step = LoadShape(users=count, spawn_rate=count, duration_s=step_s, workers=shape.workers,
                         weights=shape.weights, pacing=shape.pacing, brake=shape.brake)  # fmt: skip
        result = run_load(api, tag, step, ca_bundle=ca_bundle)  # each step removes what it made
        point = {"users": count, "rps": result.total.rps, "p95_ms": result.total.p95_ms,
                 "error_ratio": result.error_ratio}  # fmt: skip
        curve.append(point)
        if result.total.p95_ms > p95_ms or result.error_ratio > float(shape.brake.get("max_error_ratio", 1)):
            break
        held = point
    return {"p95_ms": p95_ms, "curve": curve, "highest_held": held}


def pod_restarts(targets: Any) -> tuple[dict[str, int] | None, str]:
    """Container restarts per pod (`namespace/name`: summed over its containers) in the Prefect namespace, and
    where that was read (or why not)."""
    if not targets.get("kubernetes.kubeconfig"):
        return None, "not measured: no Kubernetes target (kubernetes.kubeconfig)"
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from readiness.targets.kube import api_client

    namespace = targets.get("kubernetes.namespace") or "prefect"
    try:
        with api_client(targets) as api:
            pods = client.CoreV1Api(api).list_namespaced_pod(namespace, _request_timeout=10).items
    except (CheckError, ApiException, OSError, ValueError) as exc:
        return None, f"not measured: {str(exc).splitlines()[0][:200]}"
    counts = {
        f"{namespace}/{pod.metadata.name}": sum(s.restart_count or 0 for s in (pod.status.container_statuses or []))
        for pod in pods
    }
    return counts, f"{len(pods)} pods in namespace {namespace}"


def restarted_during(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, list[int]] | None:
    """The pods whose restart count rose between two readings: pod -> [count before, count after]."""
    if before is None or after is None:
        return None
    return {pod: [before.get(pod, 0), count] for pod, count in sorted(after.items()) if count > before.get(pod, 0)}
