"""Benchmark of the service half of the sandbox: seconds per component for `up`, with warm caches.

Three rounds, each printed per component:
  * fresh:   `up` in a new state folder (initdb, migrations, certificates made; caches warm);
  * again:   `up` while everything runs (the idempotent path);
  * restart: `down`, then `up` on the same state folder (data kept: the usual second run).
Then `down`. Goal: the whole sandbox (both halves) ready in under 60 s.

    python benchmarks/sandbox_services.py [--all | --only NAME ...] [--keep] [--json out.json]

--all times every registered component (both halves, Kubernetes first), as `readiness sandbox up` does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from readiness.sandbox import Sandbox, SandboxContext
from readiness.sandbox.registry import component_classes

SERVICES = ["pki", "postgres", "redis", "prefect", "ingress", "dns", "smtp", "oidc"]


def _round(sandbox: Sandbox) -> dict[str, float]:
    started = time.monotonic()
    timings = sandbox.up(progress=False)
    timings["TOTAL"] = time.monotonic() - started
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=None, help="components (default: the service half)")
    parser.add_argument("--all", action="store_true", help="every registered component (both halves)")
    parser.add_argument("--keep", action="store_true", help="keep the state folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    only = [cls.name for cls in component_classes()] if args.all else (args.only or SERVICES)

    root = Path(tempfile.mkdtemp(prefix="readiness-bench-"))
    root.chmod(0o755)
    sandbox = Sandbox(SandboxContext(root), only=only)
    rounds: dict[str, dict[str, float]] = {}
    try:
        rounds["fresh"] = _round(sandbox)
        rounds["again"] = _round(sandbox)
        started = time.monotonic()
        sandbox.down()
        rounds["down"] = {"TOTAL": time.monotonic() - started}
        rounds["restart"] = _round(sandbox)
    finally:
        started = time.monotonic()
        sandbox.down()
        down = time.monotonic() - started
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    names = [*only, "TOTAL"]
    print(f"{'component':<11} {'fresh s':>8} {'again s':>8} {'restart s':>9}")
    for name in names:
        cells = [rounds[r].get(name) for r in ("fresh", "again", "restart")]
        print(f"{name:<11} " + " ".join(f"{c:>8.1f} " if c is not None else f"{'-':>8} " for c in cells))
    print(f"down: {rounds['down']['TOTAL']:.1f} s (and {down:.1f} s at the end)")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "final_down": down}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
