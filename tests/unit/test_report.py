"""Report writers: the JSON matches its schema, the HTML is self-contained and lists every requirement,
the Markdown is short, the JUnit carries requirement ID and level."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import jsonschema
import pytest

from readiness.core.model import CheckResult, Observation, Outcome
from readiness.core.profile import load_profile
from readiness.core.redact import Redactor
from readiness.core.waivers import WaiverDecision
from readiness.report.model import SCHEMA_PATH, build_report, write_reports


@pytest.fixture(scope="module")
def report() -> dict:
    profile = load_profile("azure")
    checks = [
        CheckResult(
            "K8S-NODE-COUNT",
            "suites/k::t1",
            Outcome.fail,
            observations=[Observation("Ready nodes", 2, 3, "nodes", False, {"request": "GET /api/v1/nodes"})],
        ),
        CheckResult("TLS-CHAIN", "suites/e::t2", Outcome.error, message="connection refused"),
        CheckResult(
            "PREFECT-API-HEALTH",
            "suites/p::t3",
            Outcome.passed,
            observations=[Observation("GET /api/health", "true", "true", None, True, {"status": 200})],
        ),
        CheckResult("DNS-CAA", "suites/e::t4", Outcome.skip, message="not configured"),
    ]
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    return build_report(
        run_id="20261126T120000Z-abcdef",
        profile=profile,
        checks=checks,
        waivers=WaiverDecision(),
        started_at=now,
        finished_at=now + dt.timedelta(seconds=3),
        options={"strict": False},
        redactor=Redactor(),
    )


def test_json_matches_its_schema(report, tmp_path):
    run_dir = write_reports(report, tmp_path, Redactor())
    data = json.loads((run_dir / "conformance.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["summary"]["fail"] == 0 and data["summary"]["warn"] == 1  # recommended -> warn
    assert data["summary"]["error"] == 1 and data["summary"]["pass"] == 1


def test_html_parses_is_self_contained_and_contains_every_requirement(report, tmp_path):
    run_dir = write_reports(report, tmp_path, Redactor())
    html = (run_dir / "conformance.html").read_text()

    class Collector(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: set[str] = set()
            self.external: list[str] = []
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "id" in attrs:
                self.ids.add(attrs["id"])
            for key in ("src", "href"):
                if attrs.get(key, "").startswith(("http:", "https:", "//")):
                    self.external.append(attrs[key])

    parser = Collector()
    parser.feed(html)
    parser.close()
    assert not parser.external
    for result in report["results"]:
        assert f"r-{result['id']}" in parser.ids
    assert html.index("Summary") < html.index('id="c-kubernetes"')


def test_markdown_is_short_and_lists_what_needs_attention(report, tmp_path):
    md = (write_reports(report, tmp_path, Redactor()) / "conformance.md").read_text()
    assert md.startswith("## Prefect readiness: FAIL — profile `azure`")
    assert "**K8S-NODE-COUNT**" in md and "**TLS-CHAIN**" in md
    assert "PREFECT-API-HEALTH" not in md.split("| Component |")[0]
    assert len(md.splitlines()) < 40


def test_junit_carries_requirement_id_and_level(report, tmp_path):
    root = ET.parse(write_reports(report, tmp_path, Redactor()) / "junit.xml").getroot()
    catalog = len(report["results"])  # every requirement of the profile, checked or not
    assert root.tag == "testsuite" and root.get("tests") == str(catalog)
    cases = {c.find("properties/property[@name='requirement']").get("value"): c for c in root.iter("testcase")}
    assert len(cases) == catalog
    assert cases["K8S-NODE-COUNT"].find("properties/property[@name='level']").get("value") == "recommended"
    assert cases["TLS-CHAIN"].find("error") is not None
    assert cases["DNS-CAA"].find("skipped") is not None
    assert root.get("errors") == "1"


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_terminal_prints_the_verdict_first_and_report_paths_unwrapped_at_any_width(report, width, tmp_path):
    from readiness.report.terminal import render_summary

    report_dir = tmp_path / ("a-rather-long-folder-name-" * 4) / "20261126T120000Z-abcdef"
    text = render_summary(report, report_dir, width=width)
    assert text.splitlines()[0] == "FAIL: 1 error"
    assert f"{report_dir}/conformance.html" in text.splitlines()[-1]
    assert text.splitlines()[-1].endswith("(also conformance.json, conformance.md, junit.xml)")


def test_markdown_fits_a_job_summary_verdict_first_passes_folded(tmp_path, monkeypatch):
    """The full catalog, every requirement evaluated with a long observed value: under GitHub's 64 KiB,
    the verdict on the first line, failures in the table, passes inside <details>; appended to
    $GITHUB_STEP_SUMMARY when it is set."""
    profile = load_profile("azure")
    long = "x" * 400
    checks = [
        CheckResult(req_id, f"suites/x::t{i}", Outcome.passed if i % 3 else Outcome.fail,
                    observations=[Observation(req_id, long, "y", None, bool(i % 3), {"detail": long})])
        for i, req_id in enumerate(profile.requirements)
    ]  # fmt: skip
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    full = build_report(run_id="20261126T120000Z-abcdef", profile=profile, checks=checks, waivers=WaiverDecision(),
                        started_at=now, finished_at=now, options={}, redactor=Redactor())  # fmt: skip
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run_dir = write_reports(full, tmp_path / "out", Redactor())
    markdown = (run_dir / "conformance.md").read_text()
    assert len(markdown.encode()) < 64 * 1024
    assert markdown.startswith("## Prefect readiness: FAIL")
    failed = [r["id"] for r in full["results"] if r["outcome"] in ("fail", "warn")]
    passed = [r["id"] for r in full["results"] if r["outcome"] == "pass"]
    head, folded = markdown.split("<details>", 1)
    assert all(f"**{i}**" in head for i in failed) and not any(f"**{i}**" in head for i in passed)
    assert all(f"**{i}**" in folded for i in passed)
    assert summary.read_text() == "earlier step\n" + markdown + "\n"
