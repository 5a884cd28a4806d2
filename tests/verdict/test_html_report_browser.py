"""The HTML report as a person opens it: in a real browser, offline, every requirement there, charts drawn."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from readiness.probes.browser import CHROMIUM_ARGS, chromium_path
from tests.suite_run import ROOT
from tests.verdict.harness import CONFORMANT_PREFECT, CONFORMANT_PREFECT_ARGS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: where the screenshot is kept for a person to look at (reports/ is ignored by git; CI keeps it)
ARTIFACTS = Path(os.environ.get("READINESS_TEST_ARTIFACTS", ROOT / "reports" / "test-artifacts"))


def test_html_report_opens_offline_with_every_requirement_and_its_charts(suites):
    # The Prefect and load suites: API checks plus a Locust run, so the load charts have data to draw.
    verdicts = suites.shared(*CONFORMANT_PREFECT, **CONFORMANT_PREFECT_ARGS)
    assert {"prefect/test_api.py", "load"} <= set(CONFORMANT_PREFECT)
    html = verdicts.report_dir / "latest" / "conformance.html"
    report = json.loads((verdicts.report_dir / "latest" / "conformance.json").read_text())
    assert report["load"], "the load suite recorded no statistics"
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    console_errors: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS), timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            page.goto(html.as_uri(), wait_until="load", timeout=60_000)
            text = page.inner_text("body")
            charts = page.eval_on_selector_all(
                "svg",
                "els => els.map(e => ({label: e.getAttribute('aria-label') || '', w: e.getBoundingClientRect().width,"
                " h: e.getBoundingClientRect().height, marks: e.querySelectorAll('rect,path,polyline,line,circle')"
                ".length}))",
            )
            page.screenshot(path=str(ARTIFACTS / "conformance-summary.png"))
        finally:
            browser.close()
    missing = [r["id"] for r in report["results"] + report.get("not_in_run", []) if r["id"] not in text]
    assert not missing, f"requirements missing from the page: {missing}"
    assert report["summary"]["verdict"].upper() in text
    drawn = [c for c in charts if c["w"] > 100 and c["h"] > 20 and c["marks"] > 0]
    assert any("over time" in c["label"] for c in drawn), charts
    assert any("latency" in c["label"] for c in drawn), charts
    # Opened offline: the page itself is the only thing the browser fetched (data: URIs cost nothing).
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert console_errors == []
    assert (ARTIFACTS / "conformance-summary.png").stat().st_size > 10_000


def _words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_a_failing_report_shows_observed_expected_and_fix_without_expanding_anything(suites):
    # Two cheap faults of the Kubernetes suite (a missing default StorageClass fails, two nodes warn).
    with suites.scenario("no-storageclass"), suites.scenario("two-nodes"):
        verdicts = suites.run("kubernetes/test_storage.py", "kubernetes/test_nodes.py")
    latest = verdicts.report_dir / "latest"
    report = json.loads((latest / "conformance.json").read_text())
    failing = [r for r in report["results"] if r["outcome"] in ("fail", "warn")]
    assert {"K8S-STORAGECLASS", "K8S-NODE-COUNT"} <= {r["id"] for r in failing}, [r["id"] for r in failing]
    from playwright.sync_api import sync_playwright

    from readiness.report.writers import said

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "conformance-failing.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS), timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((latest / "conformance.html").as_uri(), wait_until="load", timeout=60_000)
            # What a person sees without clicking: the rendered text of each failing row (a closed <details>
            # renders nothing), and the fix paragraph on screen once scrolled to.
            rows, fixes_visible = {}, {}
            for r in failing:
                row = page.locator(f"#r-{r['id']}")
                rows[r["id"]] = _words(row.inner_text())
                fix = row.locator(".fix")
                fix.scroll_into_view_if_needed()
                fixes_visible[r["id"]] = fix.is_visible() and fix.bounding_box()["height"] > 10
            attention = _words(page.locator("h2:has-text('Needs attention') + table").inner_text())
            page.locator(f"#r-{failing[0]['id']}").scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    for r in failing:
        seen = rows[r["id"]]
        for side in ("observed", "expected"):
            assert _words(said(r, side)[0]) in seen, (r["id"], side, seen)
        assert fixes_visible[r["id"]], r["id"]
        assert _words(r["remediation"])[:120] in seen, (r["id"], seen)
        assert _words(r["remediation"])[:120] in attention, r["id"]
        assert r["remediation"] != r["remediation_generic"], r["id"]  # rendered from the run, not the catalog's
    assert "eksctl scale nodegroup --name prefect-pool" in rows["K8S-NODE-COUNT"]
    assert shot.stat().st_size > 10_000
