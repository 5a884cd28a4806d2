"""The per-check timeout is a backstop that never interrupts cleanup: a write check that times out still
removes what it created, whether the timeout strikes in its body or while it cleans up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

AWS = Path(__file__).parents[2] / "profiles" / "aws.yaml"

CHECKS = """
import contextlib, pathlib, time
import pytest

def _make(run_id, name):
    made = pathlib.Path(f"made-{name}-{run_id}")
    made.write_text("created by a write check")
    return made

@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_times_out_in_its_body(run_id):
    made = _make(run_id, "body")
    try:
        time.sleep(10)
    finally:
        time.sleep(0.5)          # slow cleanup, longer than the whole timeout
        made.unlink()

@pytest.mark.requirement("SMTP-DELIVERY", effect="write")
def test_times_out_while_cleaning_up(run_id):
    made = _make(run_id, "cleanup")
    try:
        time.sleep(0.1)
    finally:
        time.sleep(0.6)          # the timeout strikes here: the cleanup must still finish
        pathlib.Path(str(made) + ".also").write_text("cleanup ran to its end")
        made.unlink()

@contextlib.contextmanager
def tagged_object(run_id):
    made = _make(run_id, "with")
    yield made
    time.sleep(0.6)              # generator cleanup after the body: runs inside __exit__
    made.unlink()

@pytest.mark.requirement("LOAD-ERRORS", effect="load")
def test_times_out_in_a_context_managers_exit(run_id):
    with tagged_object(run_id):
        time.sleep(0.1)
"""


def test_a_write_check_that_times_out_still_removes_what_it_created(pytester: pytest.Pytester) -> None:
    timeouts = "".join(f"  {r}:\n    timeout: 0.3\n" for r in ("PREFECT-E2E-FLOW-RUN", "SMTP-DELIVERY", "LOAD-ERRORS"))
    pytester.makefile(".yaml", quick=f"name: quick\nextends: {AWS}\nrequirements:\n{timeouts}")
    pytester.makepyfile(test_writes=CHECKS)
    result = pytester.runpytest(
        "-p", "readiness.plugin", "-p", "no:cacheprovider", f"--profile={pytester.path / 'quick.yaml'}",
        "--report-dir=out", "test_writes.py",
    )  # fmt: skip
    report = json.loads((pytester.path / "out" / "latest" / "conformance.json").read_text())
    by_id = {r["id"]: r for r in report["results"]}
    for requirement in ("PREFECT-E2E-FLOW-RUN", "SMTP-DELIVERY", "LOAD-ERRORS"):
        assert by_id[requirement]["outcome"] in ("error",), by_id[requirement]
        assert by_id[requirement]["message"] == "timed out after 0.3 s (the requirement's timeout)"
    assert sorted(p.name.split("-")[1] for p in pytester.path.glob("made-*") if not p.name.endswith(".also")) == []
    assert len(list(pytester.path.glob("made-cleanup-*.also"))) == 1
    assert result.ret == 1
