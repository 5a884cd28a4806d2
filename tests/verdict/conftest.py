"""One sandbox for every verdict test: started once per session, faults applied and reverted in place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from readiness.sandbox import Sandbox, SandboxContext
from tests.verdict.harness import SuiteRunner


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The whole sandbox. READINESS_TEST_SANDBOX_DIR reuses one already up (for quick local iterations);
    READINESS_TEST_SANDBOX_ONLY=pki,smtp,... limits it to those components there."""
    reuse = os.environ.get("READINESS_TEST_SANDBOX_DIR")
    if reuse:
        only = os.environ.get("READINESS_TEST_SANDBOX_ONLY")
        sandbox = Sandbox(SandboxContext(Path(reuse)), only=only.split(",") if only else None)
        sandbox.up(progress=False)  # idempotent: only what is down is started
        yield sandbox
        return
    root = Path(tempfile.mkdtemp(prefix="readiness-verdicts-"))
    root.chmod(0o755)  # the postgres, mail and www-data users must reach their folders
    sandbox = Sandbox(SandboxContext(root, tied=True))  # dies with the session, even on SIGKILL
    try:
        sandbox.up(progress=False)
        yield sandbox
    finally:
        sandbox.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def suites(sandbox: Sandbox) -> SuiteRunner:
    return SuiteRunner(sandbox)
