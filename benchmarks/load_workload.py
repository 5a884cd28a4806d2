"""Benchmark of the Locust workload: how much load one machine's Locust processes can make.

Against a static nginx endpoint on loopback (it answers every path with a small JSON body, so the
client is the bottleneck), with the Locust processes pinned to one core (taskset):
  * wrk -t1 -c16 on the same core: the physical limit;
  * a bare FastHttpUser hello-world;
  * the workload's client path (load/locustfile.py, no pacing);
  * CPU seconds per 1,000 requests and peak RSS of the Locust processes;
  * the workload with two worker processes (two cores) over one: the gain of Locust's distributed mode,
    with the target pinned to a core of its own (other than the workers'), so the figure is the workload's
    scaling and not the machine's contention. That needs three cores; with fewer the two-worker figure is
    printed marked as contended (target and workers share cores) and is no measure of the goal (1.7x).
With --sandbox-dir, the sandbox Prefect's capacity curve: requests/s and p95 per step of users, up to
the step where p95 passes 500 ms.

    python benchmarks/load_workload.py [--seconds 10] [--sandbox-dir /work/sbx/NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the workload lives in load/ at the project root
from load.runner import LoadShape, read_statistics, run_locust  # noqa: E402

ZERO_ID = "00000000-0000-0000-0000-000000000000"
HELLO = """
from locust import FastHttpUser, constant, task, events
import json, os

class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("/")

@events.quitting.add_listener
def _(environment, **kw):
    s = environment.stats.total
    with open(os.environ["HELLO_STATS"], "w") as f:
        json.dump({"requests": s.num_requests, "failures": s.num_failures}, f)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores() -> tuple[str, str, str, bool]:
    """(target core, one worker's cores, two workers' cores, whether the target has a core of its own)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 3:
        return str(cpus[-1]), str(cpus[0]), f"{cpus[0]},{cpus[1]}", True
    return str(cpus[-1]), str(cpus[0]), ",".join(str(c) for c in cpus[:2]), False


def start_nginx(root: Path, core: str = "1") -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; client_body_temp_path {root}; proxy_temp_path {root};\n"
        f"  fastcgi_temp_path {root}; uwsgi_temp_path {root}; scgi_temp_path {root};\n"
        f"  server {{ listen 127.0.0.1:{port}; keepalive_requests 100000;\n"
        '    location / { default_type application/json; return 200 \'{"id": "' + ZERO_ID + "\"}'; }\n"
        "  }\n}\n"
    )
    proc = subprocess.Popen(["taskset", "-c", core, "nginx", "-c", str(conf), "-p", str(root)], start_new_session=True)
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, seconds: int) -> float | None:
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", "-c16", f"-d{seconds}s", url],
                         capture_output=True, text=True).stdout  # fmt: skip
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def hello(url: str, seconds: int, root: Path) -> tuple[float, float]:
    locustfile = root / "hello.py"
    locustfile.write_text(HELLO)
    stats = root / "hello.json"
    cpu = children_cpu()
    subprocess.run(["taskset", "-c", "0", sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                    "--host", url, "-u", "32", "-r", "32", "-t", f"{seconds}s", "--only-summary",
                    "--loglevel", "ERROR"], env={**os.environ, "HELLO_STATS": str(stats)},
                   capture_output=True)  # fmt: skip
    data = json.loads(stats.read_text())
    return data["requests"] / seconds, (children_cpu() - cpu) / max(data["requests"], 1) * 1000


def workload(url: str, seconds: int, root: Path, workers: int, cpus: str, users: int = 32) -> dict[str, float]:
    shape = LoadShape(users=users, spawn_rate=users, duration_s=seconds, workers=workers,
                      pacing={"worker_poll_s": 0, "flow_run_s": 0, "ui_s": 0, "log_batch": 10},
                      brake={"max_error_ratio": 1.0, "max_p95_ms": 1e9})  # fmt: skip
    config = {"tag": "bench", "work_pool": "bench", "flow_id": "00000000-0000-0000-0000-000000000000",
              "weights": shape.weights, "pacing": shape.pacing, "brake": shape.brake}  # fmt: skip
    folder = Path(tempfile.mkdtemp(dir=root))
    cpu = children_cpu()
    data = run_locust(url + "/api", None, config, shape, folder, cpus=cpus)
    _, _, total = read_statistics(data, seconds)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"rps": total.rps, "requests": total.requests, "failures": total.failures,
            "cpu_s_per_1000": round((children_cpu() - cpu) / max(total.requests, 1) * 1000, 3),
            "peak_rss_mb": round(rss_mb, 1)}  # fmt: skip


def capacity(sandbox_dir: Path, seconds: int) -> list[dict[str, float]]:
    from load.runner import run_load
    from readiness.probes.http import tls_verify
    from readiness.probes.prefect import PrefectAPI
    from readiness.sandbox import Sandbox, SandboxContext
    from readiness.targets import prefect_target

    env = Sandbox(SandboxContext(sandbox_dir), only=["prefect", "ingress"]).env()
    os.environ.update(env)
    api = PrefectAPI(prefect_target(), timeout=10, verify=tls_verify(env.get("PREFECT_API_SSL_CERT_FILE")))
    curve = []
    try:
        for users in (2, 4, 8, 16, 32):
            shape = LoadShape(users=users, spawn_rate=users, duration_s=seconds, workers=1,
                              pacing={"worker_poll_s": 0.5, "flow_run_s": 0.5, "ui_s": 0.5, "log_batch": 10},
                              brake={"max_error_ratio": 0.5, "max_p95_ms": 20000})  # fmt: skip
            result = run_load(api, f"bench-{int(time.time())}-{users}", shape,
                              ca_bundle=env.get("PREFECT_API_SSL_CERT_FILE"))  # fmt: skip
            point = {"users": users, "rps": result.total.rps, "p95_ms": result.total.p95_ms,
                     "error_ratio": result.error_ratio}  # fmt: skip
            curve.append(point)
            print(f"capacity: {users:3d} users  {point['rps']:7.1f} req/s  p95 {point['p95_ms']:6.0f} ms  "
                  f"errors {point['error_ratio']:.1%}", flush=True)  # fmt: skip
            if result.total.p95_ms > 500:
                break
    finally:
        api.close()
    return curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--sandbox-dir", type=Path, default=None, help="also measure the sandbox's capacity curve")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="readiness-loadbench-"))
    target, one_cores, two_cores, separate = cores()
    nginx, url = start_nginx(root, target)
    try:
        limit = wrk(url + "/", args.seconds)
        print(f"wrk -t1 -c16 (one core):                 {limit if limit else 'wrk not installed'} req/s", flush=True)
        bare_rps, bare_cpu = hello(url, args.seconds, root)
        print(f"bare FastHttpUser (one core):            {bare_rps:9.0f} req/s  {bare_cpu:.3f} CPU s/1000 req",
              flush=True)  # fmt: skip
        one = workload(url, args.seconds, root, workers=1, cpus=one_cores)
        print(
            f"workload client path, 1 worker (core 0): {one['rps']:9.0f} req/s  {one['cpu_s_per_1000']:.3f} CPU "
            f"s/1000 req  peak RSS {one['peak_rss_mb']} MB  ({one['rps'] / bare_rps:.2f} of bare)",
            flush=True,
        )
        two = workload(url, args.seconds, root, workers=2, cpus=two_cores)
        where = f"target on core {target}" if separate else f"CONTENDED: the target shares core {target}"
        print(f"workload, 2 workers (cores {two_cores}): {two['rps']:9.0f} req/s  gain {two['rps'] / one['rps']:.2f}x "
              f"over 1 worker (core {one_cores}); {where}; goal 1.7x", flush=True)  # fmt: skip
    finally:
        nginx.terminate()
        nginx.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    if args.sandbox_dir:
        capacity(args.sandbox_dir, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
