"""Running the suites against the sandbox and reading the verdicts back from the report.

One sandbox serves every verdict test: scenarios are applied in place and reverted afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from readiness.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Verdicts:
    """The outcome of one suite run: exit status, per-requirement results, the terminal output."""

    code: int
    results: dict[str, dict]
    output: str
    report_dir: Path

    def outcome(self, requirement_id: str) -> str:
        return self.results[requirement_id]["outcome"]

    def explain(self, requirement_id: str) -> str:
        r = self.results[requirement_id]
        return f"{requirement_id}: {r['outcome']} — {r['message']} (observed {r['observed']!r})\n{self.output[-3000:]}"


class SuiteRunner:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, *suites: str, profile: str = "sandbox", extra: tuple[str, ...] = ()) -> Verdicts:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
        env.update(self.sandbox.env())
        env["PREFECT_HOME"] = str(self.sandbox.ctx.root / "client-home")
        report_dir = Path(tempfile.mkdtemp(prefix="verdicts-", dir=self.sandbox.ctx.root))
        paths = [str(ROOT / "suites" / s) for s in suites] or [str(ROOT / "suites")]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(ROOT),
                "--profile",
                profile,
                "--report-dir",
                str(report_dir),
                *paths,
                *extra,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        latest = report_dir / "latest" / "conformance.json"
        if not latest.exists():
            raise AssertionError(f"no report written (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr}")
        report = json.loads(latest.read_text())
        return Verdicts(proc.returncode, {r["id"]: r for r in report["results"]}, proc.stdout + proc.stderr, report_dir)

    @contextmanager
    def scenario(self, name: str) -> Iterator[None]:
        self.sandbox.apply(name)
        try:
            yield
        finally:
            self.sandbox.revert(name)
