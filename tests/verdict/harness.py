"""Running the suites against the sandbox and reading the verdicts back from the report.

One sandbox serves every verdict test: scenarios are applied in place and reverted afterwards.

How to use it in a new verdict test (keeps the whole test run fast, issue #21):

- take the session fixture ``suites`` (a :class:`SuiteRunner` on the one session sandbox, started once by
  tests/verdict/conftest.py); never start a sandbox of your own in a verdict test;
- a fault: ``with suites.scenario("name"): verdicts = suites.run("suite")`` -- the component applies it in
  place and reverts it on exit (a restart only where the fault needs one, see the component's apply/revert);
- a run that other tests make too (of the conformant sandbox, or under one fault with ``scenario=``): ask
  for it with ``suites.shared(...)`` instead of ``suites.run(...)``: the run is made once per session for
  the same arguments and every test reads the same verdicts. ``CONFORMANT_PREFECT`` below is the one run of
  the Prefect API, authn, end-to-end and load checks (with the capacity curve and a run id) that the
  Prefect, load and HTML-report verdict tests share, ``SLOW_PREFECT`` the one run under prefect-slow; add
  your suite to a shared run only if every test that reads it still asserts the same things (the
  conformant one must stay conformant: exit status 0);
- a scenario's run that several tests assert on: make it once in a module- or session-scoped fixture.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from readiness.report.model import new_run_id
from readiness.sandbox import Sandbox
from tests.report_wording import report_problems
from tests.suite_run import ROOT, Verdicts, run_suites

#: the conformant sandbox's one run of the Prefect API, authn and end-to-end checks and the load suite (with
#: its capacity curve), tagged with a run id: shared by test_prefect_sandbox, test_prefect_api_verdicts,
#: test_load_verdicts and test_html_report_browser (``suites.shared(*CONFORMANT_PREFECT, **CONFORMANT_PREFECT_ARGS)``)
CONFORMANT_PREFECT = (
    "prefect/test_api.py", "prefect/test_authn.py", "prefect/test_e2e.py", "prefect/test_workers.py", "load"
)  # fmt: skip
CONFORMANT_PREFECT_ARGS: dict = {"extra": ("--load-capacity",), "run_id": True}
#: the one run under prefect-slow of the API checks and the load suite, tagged with a run id: shared by
#: test_prefect_sandbox and test_load_verdicts (``suites.shared(*SLOW_PREFECT, **SLOW_PREFECT_ARGS)``)
SLOW_PREFECT = ("prefect/test_api.py", "load")
SLOW_PREFECT_ARGS: dict = {"scenario": "prefect-slow", "run_id": True}


class SuiteRunner:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._shared: dict[tuple, Verdicts] = {}

    def shared(
        self,
        *suites: str,
        profile: str = "sandbox",
        extra: tuple[str, ...] = (),
        run_id: bool = False,
        scenario: str | None = None,
    ) -> Verdicts:
        """The run of `suites` on the conformant sandbox (or under `scenario`, applied for the run and reverted),
        made once per session for the same arguments and shared by every test that asks for it (`run_id`:
        tagged with a fresh --run-id, in ``verdicts.run_id``)."""
        key = (suites, profile, extra, run_id, scenario, self.sandbox.layout)  # a run of one layout only
        if key not in self._shared:
            active = self.sandbox.ctx.active_scenarios()
            assert not active, f"a shared run starts from the conformant sandbox, but {active} is applied"
            tag = new_run_id() if run_id else None
            args = (*extra, "--run-id", tag) if tag else extra
            if scenario is None:
                verdicts = self.run(*suites, profile=profile, extra=args)
            else:
                with self.scenario(scenario):
                    verdicts = self.run(*suites, profile=profile, extra=args)
            verdicts.run_id = tag
            self._shared[key] = verdicts
        return self._shared[key]

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
