"""Benchmark of the Redis and PostgreSQL suites against a running sandbox.

Prints the median and worst time of each probe call (over --repeat calls) and the wall time of one
`pytest --profile sandbox suites/redis suites/postgres` run (14 requirements, one subprocess).

    readiness sandbox --state-dir DIR --only prefect up
    python benchmarks/data_suites.py --state-dir DIR [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from readiness.probes.postgres import PostgresEndpoint, PostgresProbe, local_migration_head
from readiness.probes.redis import RedisEndpoint, RedisProbe
from readiness.targets import resolve_targets

ROOT = Path(__file__).resolve().parents[1]


def timed(label: str, call: Callable[[], object], repeat: int) -> None:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    print(f"{label:<44} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms   (n={repeat})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", required=True, help="a sandbox state folder with redis and postgres up")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    targets_file = Path(args.state_dir) / "targets.yaml"
    targets = resolve_targets(targets_file, environ={}, discover=False)
    url = targets.get("redis.urls")["messaging"]
    redis = RedisProbe(
        RedisEndpoint("messaging", url, targets.get("redis.username"), targets.get("redis.password"),
                      targets.ca_bundle("redis")),
        timeout=5,
    )  # fmt: skip
    postgres = PostgresProbe(
        PostgresEndpoint(
            host=targets.get("postgres.host"),
            hostaddr=targets.get("postgres.hostaddr"),
            port=int(targets.get("postgres.port")),
            user=targets.get("postgres.user"),
            dbname=targets.get("postgres.dbname"),
            password=targets.get("postgres.password"),
            sslmode=targets.get("postgres.sslmode") or "verify-full",
            sslrootcert=targets.get("postgres.sslrootcert"),
        ),
        timeout=5,
    )
    plaintext = targets.get("redis.plaintext_url")
    timed("Redis INFO over TLS (connect+AUTH+INFO x2)", redis.info, args.repeat)
    timed("Redis AUTH behaviour (3 connections)", redis.auth, args.repeat)
    timed("Redis TLS + plaintext probe", lambda: redis.tls(plaintext), args.repeat)
    timed("PostgreSQL facts (verify-full session)", postgres.facts, args.repeat)
    timed("PostgreSQL TLS behaviour (2 sessions)", postgres.tls, args.repeat)
    timed("PostgreSQL alembic_version", postgres.schema_revision, args.repeat)
    timed("Prefect migration head (read as text)", local_migration_head, max(3, args.repeat // 4))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG"))}
    env.update({"READINESS_TARGETS": str(targets_file), "PREFECT_HOME": tempfile.mkdtemp()})
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--profile=sandbox", f"--report-dir={reports}",
             "-q", str(ROOT / "suites" / "redis"), str(ROOT / "suites" / "postgres")],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    print(f"{'suites/redis + suites/postgres, one run':<44} {wall:7.1f} s      exit {proc.returncode}: {last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
