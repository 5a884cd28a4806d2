"""Running the conformance suites in a pytest subprocess, as a user would, and reading the report back."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Verdicts:
    """One run: exit status, per-requirement results from conformance.json, the terminal output."""

    code: int
    results: dict[str, dict]
    output: str
    report_dir: Path
    #: the --run-id the run was given (its tagged objects can be looked up afterwards), when it was given one
    run_id: str | None = None

    def outcome(self, requirement_id: str) -> str:
        return self.results[requirement_id]["outcome"]

    def explain(self, requirement_id: str) -> str:
        r = self.results[requirement_id]
        return f"{requirement_id}: {r['outcome']} — {r['message']} (observed {r['observed']!r})\n{self.output[-3000:]}"


def run_suites(
    paths: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    report_dir: Path,
    profile: str = "sandbox",
    extra: Sequence[str] = (),
    timeout: float = 900,
) -> Verdicts:
    """`pytest --profile PROFILE --report-dir REPORT_DIR PATHS...` from the project root, in `env`."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT), f"--profile={profile}",
         f"--report-dir={report_dir}", *map(str, paths), *extra],
        cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    latest = report_dir / "latest" / "conformance.json"
    if not latest.exists():
        raise AssertionError(f"no report written (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr}")
    report = json.loads(latest.read_text())
    return Verdicts(proc.returncode, {r["id"]: r for r in report["results"]}, proc.stdout + proc.stderr, report_dir)
