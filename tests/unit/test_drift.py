"""Drift between two reports: new failures, resolved items, changed observed values."""

from __future__ import annotations

import copy
import json

from readiness.cli import main
from readiness.report.drift import compute_drift


def _report(outcomes: dict[str, tuple[str, object]], run_id: str = "20261126T000000Z-aaaaaa") -> dict:
    return {
        "schema_version": 1,
        "run": {"id": run_id, "started_at": "2026-11-26T00:00:00+00:00"},
        "results": [{"id": k, "outcome": o, "observed": v} for k, (o, v) in outcomes.items()],
    }


OLD = _report(
    {
        "K8S-NODE-COUNT": ("pass", 3),
        "LB-ADDRESS": ("fail", None),
        "TLS-HSTS": ("warn", 0),
        "REDIS-AUTH": ("pass", True),
    }
)
NEW = _report(
    {
        "K8S-NODE-COUNT": ("warn", 2),
        "LB-ADDRESS": ("pass", "10.0.0.1"),
        "TLS-HSTS": ("fail", 0),
        "REDIS-AUTH": ("pass", True),
        "PG-TLS": ("pass", True),
    },
    "20261127T000000Z-bbbbbb",
)


def test_drift_lists_new_failures_resolved_and_changed_values():
    drift = compute_drift(OLD, NEW)
    assert drift["baseline_run"] == "20261126T000000Z-aaaaaa"
    assert {d["id"]: d["outcome"] for d in drift["new_failures"]} == {
        "K8S-NODE-COUNT": "warn",
        "TLS-HSTS": "fail",
    }
    assert [d["id"] for d in drift["resolved"]] == ["LB-ADDRESS"]
    assert {d["id"]: (d["was"], d["now"]) for d in drift["changed"]} == {
        "K8S-NODE-COUNT": (3, 2),
        "LB-ADDRESS": (None, "10.0.0.1"),
    }
    assert drift["other"] == ["PG-TLS is new in this run (pass)"]


def _with_sentences(report: dict) -> dict:
    """The same report as written since the sentences: `observed` in words, the typed value in `observed_value`."""
    report = copy.deepcopy(report)
    for result in report["results"]:
        result["observed_value"] = result["observed"]
        result["observed"] = f"{result['id']} in words ({result['outcome']}, run {report['run']['id']})"
    return report


def test_drift_compares_the_typed_values_not_the_sentences():
    # The sentences differ for every result (they name the run); the answers are those of the typed values.
    assert compute_drift(_with_sentences(OLD), _with_sentences(NEW)) == compute_drift(OLD, NEW)
    # A baseline written before the sentences against a new report: still the same answers.
    assert compute_drift(OLD, _with_sentences(NEW)) == compute_drift(OLD, NEW)
    assert compute_drift(_with_sentences(OLD), _with_sentences(OLD))["changed"] == []


def test_no_drift_between_a_report_and_itself():
    drift = compute_drift(OLD, copy.deepcopy(OLD))
    assert drift["new_failures"] == drift["resolved"] == drift["changed"] == []


def test_readiness_diff_prints_the_drift_and_exits_1_on_new_failures(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(NEW))
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "new warn: **K8S-NODE-COUNT** (was pass)" in out
    assert "resolved: **LB-ADDRESS**" in out
    assert main(["diff", str(old), str(old)]) == 0


def test_readiness_diff_on_a_file_that_is_not_a_report(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["diff", str(bad), str(bad)]) == 2
    assert (
        capsys.readouterr().err.strip() == f"readiness diff: error: {bad}: not a conformance.json report "
        "(no schema_version/results)"
    )


def test_baseline_option_adds_a_drift_section_to_every_format(pytester, tmp_path):
    checks = (
        'import pytest\n@pytest.mark.requirement("K8S-NODE-COUNT")\ndef test_x(expect):\n'
        '    expect.at_least("Ready nodes", 2, 3, unit="nodes")\n'
    )
    pytester.makepyfile(test_checks=checks)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(_report({"K8S-NODE-COUNT": ("pass", 3)})))
    pytester.runpytest("-p", "readiness.plugin", "--profile", "aws", "--report-dir", "out", f"--baseline={baseline}")
    latest = pytester.path / "out" / "latest"
    report = json.loads((latest / "conformance.json").read_text())
    assert report["drift"]["new_failures"] == [{"id": "K8S-NODE-COUNT", "outcome": "warn", "was": "pass"}]
    assert "Drift since" in (latest / "conformance.md").read_text()
    assert "Drift since" in (latest / "conformance.html").read_text()
    assert "Drift since" in (latest / "junit.xml").read_text()
