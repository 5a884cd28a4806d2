"""Benchmark of the Kubernetes half of the sandbox.

Prints:
  * the cold build time of the binaries (from the timing file tools/k8s/build.sh writes),
  * `sandbox up` wall time with a warm cache (3 nodes; goal < 30 s), and `down`,
  * time and peak memory (sum of the RSS of etcd, apiserver, controller-manager, scheduler, kwok)
    to reach N Ready nodes (default 5,000), then M Running pods (default 20,000).

    python benchmarks/k8s_sandbox.py [--nodes 5000] [--pods 20000] [--skip-scale] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from readiness.sandbox import Sandbox, SandboxContext
from readiness.sandbox.kubernetes import binaries
from readiness.sandbox.kubernetes.component import PROCESSES


class RssSampler:
    """Samples the summed RSS of the sandbox processes every `interval` seconds; keeps the peak."""

    def __init__(self, ctx: SandboxContext, interval: float = 0.5) -> None:
        self.ctx = ctx
        self.interval = interval
        self.peak = 0
        self.per_process_peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = 0
        for name in PROCESSES:
            pid = self.ctx.pid(name)
            if pid is None:
                continue
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                        total += rss
                        self.per_process_peak[name] = max(self.per_process_peak.get(name, 0), rss)
            except OSError:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB"


def cold_build() -> dict[str, Any] | None:
    path = binaries.cache_dir() / "build-timing.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def warm_up(root: Path) -> dict[str, float]:
    ctx = SandboxContext(root / "warm")
    sandbox = Sandbox(ctx, only=["kubernetes"])
    started = time.monotonic()
    sandbox.up(progress=False)
    up = time.monotonic() - started
    started = time.monotonic()
    sandbox.up(progress=False)
    again = time.monotonic() - started
    started = time.monotonic()
    sandbox.down()
    down = time.monotonic() - started
    return {"up_seconds": up, "second_up_seconds": again, "down_seconds": down}


def scale(root: Path, nodes: int, pods: int) -> dict[str, Any]:
    ctx = SandboxContext(root / "scale")
    ctx.set("nodes", nodes)
    sandbox = Sandbox(ctx, only=["kubernetes"])
    result: dict[str, Any] = {"nodes": nodes, "pods": pods}
    try:
        with RssSampler(ctx) as sampler:
            started = time.monotonic()
            sandbox.up(progress=True)
            result["nodes_ready_seconds"] = time.monotonic() - started
            result["nodes_peak_rss_bytes"] = sampler.peak
            print(
                f"{nodes:,} Ready nodes: {result['nodes_ready_seconds']:.1f} s from a cold start, "
                f"peak RSS {_mib(sampler.peak)}",
                flush=True,
            )
            if pods:
                ctx.set("pods", pods)
                started = time.monotonic()
                sandbox.up(progress=True)
                result["pods_running_seconds"] = time.monotonic() - started
                print(f"{pods:,} Running pods on them: {result['pods_running_seconds']:.1f} s more", flush=True)
            result["peak_rss_bytes"] = sampler.peak
            result["per_process_peak_rss_bytes"] = dict(sampler.per_process_peak)
    finally:
        sandbox.down()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    binaries.ensure()
    figures: dict[str, Any] = {"k8s_version": binaries.k8s_version()}
    build = cold_build()
    figures["cold_build"] = build
    if build:
        steps = ", ".join(f"{k} {v} s" for k, v in sorted(build["steps"].items()))
        print(f"cold build of the binaries: {build['total_seconds']} s ({steps}; {build['go']})")
    else:
        print("cold build of the binaries: no timing file (binaries came from KUBEBUILDER_ASSETS?)")

    with tempfile.TemporaryDirectory(prefix="k8s-bench-") as tmp:
        warm = warm_up(Path(tmp))
        figures["warm"] = warm
        goal = "met" if warm["up_seconds"] < 30 else "MISSED"
        print(f"sandbox up, warm cache, 3 nodes: {warm['up_seconds']:.1f} s (goal < 30 s: {goal})", flush=True)
        again, down = warm["second_up_seconds"], warm["down_seconds"]
        print(f"second up (already running): {again:.1f} s; down: {down:.1f} s")
        if not args.skip_scale:
            result = scale(Path(tmp), args.nodes, args.pods)
            figures["scale"] = result
            per = ", ".join(f"{k} {_mib(v)}" for k, v in result["per_process_peak_rss_bytes"].items())
            print(f"peak RSS, all processes: {_mib(result['peak_rss_bytes'])} ({per})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
