"""Wall time and peak RSS of the Kubernetes suite, beside raw paginated lists of the same objects (every
node; every node and every pod) in the same run.

Runs against a sandbox that is already up (the figures depend on its size):

    readiness sandbox up --state-dir DIR [--nodes 5000 --pods 20000] [--layout helm]
    python benchmarks/kubernetes_suite.py --state-dir DIR [--repeat 3] [--layout helm]

--layout lays the sandbox's Prefect objects out that way first (in place, as `sandbox up --layout` does: the
prefect-helm charts' objects with the Gateway API edge, or the default ones) and keeps it so.

Each measurement is its own process (peak RSS = that process's ru_maxrss); best of --repeat runs.
Goal (issues 8 and 20): at 5,000 nodes and 20,000 pods, the suite within 3x the raw node list's time and
under 150 MB peak RSS; the raw list of nodes and pods (what the suite reads at least) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RAW_LIST = """
import json, sys
from kubernetes import config
api = config.new_client_from_config()
counts = []
for path in sys.argv[1:]:
    count, cont = 0, None
    while True:
        query = [("limit", 500)] + ([("continue", cont)] if cont else [])
        method, url, headers, body, _ = api.param_serialize("GET", path, query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        page = json.loads(api.call_api(method, url, header_params=headers, body=body).read())
        count += len(page["items"])
        cont = page["metadata"].get("continue")
        if not cont:
            break
    counts.append(f"{count} {path.rsplit('/', 1)[-1]}")
print(", ".join(counts))
"""
RAW = {"raw-node-list": ["/api/v1/nodes"], "raw-node-and-pod-list": ["/api/v1/nodes", "/api/v1/pods"]}


def one(kind: str, env: dict[str, str]) -> dict[str, float | str]:
    """Run one measurement in a wrapper process so ru_maxrss belongs to that measurement alone."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        f"p = subprocess.run({_argv(kind)!r}, capture_output=True, text=True)\n"
        "e = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': e, 'peak_rss_mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,"
        " 'rc': p.returncode, 'tail': (p.stdout + p.stderr)[-400:]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _argv(kind: str) -> list[str]:
    if kind in RAW:
        return [sys.executable, "-c", RAW_LIST, *RAW[kind]]
    report_dir = tempfile.mkdtemp(prefix="bench-k8s-")
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--profile=sandbox",
            "--report-dir", report_dir, "suites/kubernetes", "--read-only"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, required=True, help="the sandbox's state folder (it must be up)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layout", choices=("default", "helm"), default=None,
                        help="switch the sandbox to this layout in place first (default: keep its own)")  # fmt: skip
    args = parser.parse_args(argv)
    from readiness.sandbox import Sandbox, SandboxContext

    sandbox = Sandbox(SandboxContext(args.state_dir))  # every component: its targets file is rewritten whole
    if args.layout and args.layout != sandbox.layout:
        sandbox.switch_layout(args.layout)
    nodes = sandbox.ctx.get("nodes") or 3
    print(f"sandbox layout {sandbox.layout}, {nodes} nodes, {sandbox.ctx.get('pods') or 0} extra pods", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
    for line in (args.state_dir / "env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    env["READINESS_SANDBOX_DIR"] = str(args.state_dir)
    import yaml

    targets = yaml.safe_load((args.state_dir / "targets.yaml").read_text())
    env["KUBECONFIG"] = targets["kubernetes"]["kubeconfig"]  # for the raw list (the suite reads the targets)
    figures = {}
    for kind in ("raw-node-list", "raw-node-and-pod-list", "kubernetes-suite"):
        runs = [one(kind, env) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        figures[kind] = best
        print(f"{kind:22s} best of {args.repeat}: {best['seconds']:.2f} s, peak RSS {best['peak_rss_mib']:.0f} MiB "
              f"(exit {best['rc']})", flush=True)  # fmt: skip
        if kind in RAW:
            print(f"{'':22s} listed: {best['tail'].strip().splitlines()[-1]}")
    suite = figures["kubernetes-suite"]["seconds"]
    print(f"suite / raw node list: {suite / figures['raw-node-list']['seconds']:.2f}x (goal <= 3x); "
          f"suite / raw node and pod list: {suite / figures['raw-node-and-pod-list']['seconds']:.2f}x; "
          "suite peak RSS goal < 150 MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
