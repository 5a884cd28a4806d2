"""Running the suites against the sandbox and reading the verdicts back from the report.

One sandbox serves every verdict test: scenarios are applied in place and reverted afterwards.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from readiness.sandbox import Sandbox
from tests.report_wording import report_problems
from tests.suite_run import ROOT, Verdicts, run_suites


class SuiteRunner:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, *suites: str, profile: str = "sandbox", extra: tuple[str, ...] = ()) -> Verdicts:
        # As a user with a real install runs it: the targets file, nothing else of the sandbox's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG"))}
        env.update(self.sandbox.user_env())
        env["PREFECT_HOME"] = str(self.sandbox.ctx.root / "client-home")
        report_dir = Path(tempfile.mkdtemp(prefix="verdicts-", dir=self.sandbox.ctx.root))
        paths = [ROOT / "suites" / s for s in suites] or [ROOT / "suites"]
        verdicts = run_suites(paths, env=env, report_dir=report_dir, profile=profile, extra=extra)
        # Every report a verdict test produces (the conformant sandbox and every scenario) reads as words and
        # units: observed and expected carry no Python repr and no number without its unit (issue #18).
        wording = report_problems({"results": list(verdicts.results.values())})
        assert not wording, "observed/expected not in words and units:\n" + "\n".join(wording)
        return verdicts

    def scenario(self, name: str) -> AbstractContextManager[None]:
        return self.sandbox.scenario(name)
