"""Wall time of the edge and mesh suites on a conformant sandbox that is already up.

Prints, for each suite run alone (a pytest subprocess, as a user runs it): the wall time, and the
slowest checks with their own durations from the report. Median of --repeat runs.

    python benchmarks/edge_mesh.py --state-dir /path/to/sandbox [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from readiness.sandbox import Sandbox, SandboxContext  # noqa: E402
from tests.suite_run import run_suites  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True, help="a sandbox folder that is up")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sandbox = Sandbox(SandboxContext(Path(args.state_dir)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG"))}
    env.update(sandbox.user_env())
    env["PREFECT_HOME"] = str(sandbox.ctx.root / "client-home")
    for suite in ("edge", "mesh"):
        walls: list[float] = []
        durations: dict[str, list[float]] = {}
        outcomes: set[str] = set()
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(dir=sandbox.ctx.root) as reports:
                started = time.perf_counter()
                verdicts = run_suites([ROOT / "suites" / suite], env=env, report_dir=Path(reports))
                walls.append(time.perf_counter() - started)
            for rid, result in verdicts.results.items():
                if result["component"] == suite:
                    durations.setdefault(rid, []).append(result["duration_s"])
                    outcomes.add(f"{rid}={result['outcome']}")
        print(f"{suite}: wall {statistics.median(walls):.1f} s (median of {args.repeat}: "
              f"{', '.join(f'{w:.1f}' for w in walls)})")  # fmt: skip
        for rid, values in sorted(durations.items(), key=lambda kv: -statistics.median(kv[1]))[:4]:
            print(f"  {rid:22} {statistics.median(values):6.2f} s")
        print(f"  outcomes: {' '.join(sorted(outcomes))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
