"""The conformant sandbox's report reads as an auditor's finding: every result says what was measured and the
rule, in words and units, in conformance.json and in the HTML, Markdown and JUnit a person opens.

The scenarios' reports are checked where they are produced: tests/verdict/harness.py runs the same check on
every report a verdict test reads.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from tests.report_wording import REPR, report_problems

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SUITES = ("kubernetes", "edge", "identity", "mesh", "postgres", "redis", "smtp", "prefect")


def test_conformant_sandbox_report_says_every_observed_and_expected_in_words_and_units(suites):
    verdicts = suites.shared(*SUITES, extra=("--read-only",))  # shared with test_helm_layout_verdicts
    latest = verdicts.report_dir / "latest"
    report = json.loads((latest / "conformance.json").read_text())
    evaluated = [r for r in report["results"] if r["checks"]]
    assert len(evaluated) >= 40, [r["id"] for r in report["results"] if not r["checks"]]
    assert report_problems(report) == []
    for result in evaluated:
        # The typed values stay next to the sentences, for diff, drift and conformance.prom.
        assert "observed_value" in result and "expected_value" in result
        assert result["observed"] and result["expected"], result["id"]
    # What a person opens: the Observed/Expected cells of the HTML and Markdown, and JUnit's text.
    html = (latest / "conformance.html").read_text()
    cells = re.findall(r'<tr id="r-[^"]+">(.*?)</tr>', html, flags=re.S)
    assert len(cells) == len(report["results"]) + len(report["not_in_run"])
    for row in cells:
        words = re.sub(r"<details>.*?</details>", "", row, flags=re.S)
        assert not REPR.search(re.sub(r"<[^>]+>", " ", words)), words
    markdown = (latest / "conformance.md").read_text()
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    for line in table_rows:
        assert not REPR.search(line), line
    for case in ET.parse(latest / "junit.xml").iter("testcase"):
        for child in case:
            for text in (child.get("message") or "", child.text or ""):
                observed_expected = [t for t in text.splitlines() if t.startswith(("observed:", "expected:"))]
                assert not any(REPR.search(t) for t in observed_expected), observed_expected
