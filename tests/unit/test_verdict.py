"""The gate verdict: FAIL / INCOMPLETE / PASS, the scope it is decided on, and the exit status.

The policy (readiness.model.run_verdict) case by case, then the plugin end to end on generated checks:
what is in scope (suite paths, -k, -m, --read-only), `--allow-incomplete`, every report format and xdist.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from readiness.core.model import EXIT_INCOMPLETE, Outcome, Verdict, exit_status, run_verdict
from readiness.core.profile import load_profile
from readiness.report.model import SCHEMA_PATH

#: the catalog grows with the suites; the tests count it rather than pin a number
CATALOG = len(load_profile("aws").requirements)

P, W, F, E, S, WV = Outcome.passed, Outcome.warn, Outcome.fail, Outcome.error, Outcome.skip, Outcome.waived


# -- the policy ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("results", "strict", "expected"),
    [
        ([("required", P), ("recommended", P)], False, Verdict.passed),
        ([("required", F), ("required", S)], False, Verdict.fail),  # fail beats incomplete
        ([("required", E), ("required", S)], False, Verdict.fail),  # so does error
        ([("required", P), ("required", S)], False, Verdict.incomplete),  # a required one not evaluated
        ([("required", WV), ("required", P)], False, Verdict.passed),  # a waived required one is fine
        ([("required", P), ("optional", S), ("recommended", S)], False, Verdict.passed),  # optional skip fine
        ([("required", P), ("recommended", W)], False, Verdict.passed),
        ([("required", P), ("recommended", W)], True, Verdict.fail),  # --strict
        ([("required", S), ("recommended", W)], True, Verdict.fail),
        ([("optional", S), ("recommended", S)], False, Verdict.incomplete),  # nothing at all evaluated
        ([], False, Verdict.incomplete),
    ],
)
def test_verdict_policy(results, strict, expected):
    assert run_verdict(results, strict=strict) is expected


def test_an_interrupted_run_is_never_pass_and_a_failure_still_fails():
    assert run_verdict([("required", P)], interrupted=True) is Verdict.incomplete
    assert run_verdict([("required", F)], interrupted=True) is Verdict.fail


def test_exit_status_of_each_verdict():
    assert exit_status(Verdict.passed) == 0
    assert exit_status(Verdict.fail) == 1
    assert exit_status(Verdict.fail, allow_incomplete=True) == 1
    assert exit_status(Verdict.incomplete) == EXIT_INCOMPLETE == 101
    assert exit_status(Verdict.incomplete, allow_incomplete=True) == 0
    assert EXIT_INCOMPLETE not in {code.value for code in pytest.ExitCode}


# -- end to end ----------------------------------------------------------------------------------
def _suites(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def _run(pytester: pytest.Pytester, *args: str, out: str = "out") -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest("-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile", "aws",
                                f"--report-dir={out}", *args)  # fmt: skip
    latest = pytester.path / out / "latest" / "conformance.json"
    return result, json.loads(latest.read_text()) if latest.exists() else {}


def _outcomes(report: dict) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in report["results"]}


REDIS = """
import pytest

@pytest.mark.requirement("REDIS-VERSION")          # required
def test_version(expect):
    expect.version_at_least("Redis version", "7.2.4", "6.2")

@pytest.mark.requirement("REDIS-AUTH")             # required
def test_auth(expect):
    expect.true("AUTH required", True)

@pytest.mark.requirement("REDIS-EVICTION")         # recommended
def test_eviction(expect):
    expect.equal("maxmemory-policy", "noeviction", "noeviction")
"""

#: the redis suite without a check of REDIS-AUTH (required)
REDIS_PARTIAL = REDIS.replace('"REDIS-AUTH"', '"REDIS-TLS"')

POSTGRES = """
import pytest

@pytest.mark.requirement("PG-VERSION-MIN")         # required
def test_version(expect):
    expect.at_least("PostgreSQL major", 12, 14)
"""

SMTP = """
import pytest

@pytest.mark.requirement("SMTP-DELIVERY", effect="write")   # optional
def test_delivery(expect):
    pytest.skip("target not configured: SMTP recipient; set smtp.recipient in the targets file")

@pytest.mark.requirement("SMTP-TLS")                        # recommended
def test_tls(expect):
    pytest.skip("target not configured: SMTP server; set smtp.host in the targets file")
"""


@pytest.fixture
def suites(pytester: pytest.Pytester) -> pytest.Pytester:
    _suites(
        pytester,
        {"suites/redis/test_redis.py": REDIS, "suites/postgres/test_pg.py": POSTGRES, "suites/smtp/test_smtp.py": SMTP},
    )
    return pytester


def test_a_suite_path_runs_that_suite_only_and_the_rest_is_not_in_this_run(suites):
    result, report = _run(suites, "suites/redis", "suites/smtp")
    assert report["summary"]["verdict"] == "pass", report["summary"]
    assert result.ret == 0
    assert set(_outcomes(report)) == {
        "REDIS-VERSION", "REDIS-AUTH", "REDIS-EVICTION", "SMTP-DELIVERY", "SMTP-TLS",
        # no check yet, but their suites were asked for: in scope, not evaluated
        "REDIS-MEMORY", "REDIS-CPU", "REDIS-TLS", "REDIS-HEADROOM", "SMTP-AUTH",
    }  # fmt: skip
    left_out = {r["id"]: r["reason"] for r in report["not_in_run"]}
    assert left_out["PG-VERSION-MIN"] == "its checks are in a suite this run did not include"  # has a check
    assert left_out["K8S-NODE-COUNT"] == "its suite (kubernetes/) was not part of this run"  # has none yet
    assert report["summary"]["not_in_run"] == len(left_out) == CATALOG - report["summary"]["total"]
    # an optional (and a recommended) requirement skipped for want of a target does not hold the gate
    assert _outcomes(report)["SMTP-DELIVERY"] == "skip"


def test_a_required_requirement_not_evaluated_makes_the_run_incomplete(suites):
    suites.path.joinpath("suites/redis/test_redis.py").write_text(REDIS_PARTIAL)
    result, report = _run(suites, "suites/redis")
    summary = report["summary"]
    assert summary["verdict"] == "incomplete"
    assert summary["not_evaluated"] == ["REDIS-AUTH"]  # required; REDIS-MEMORY etc. are recommended
    assert result.ret == EXIT_INCOMPLETE
    out = result.stdout.str()
    section = out[out.index("prefect-readiness: INCOMPLETE") :].splitlines()
    assert section[1].startswith("INCOMPLETE: 1 required requirement(s) in scope not evaluated: REDIS-AUTH")
    assert f"(exit {EXIT_INCOMPLETE}; --allow-incomplete accepts it)" in section[1]


def test_allow_incomplete_exits_zero_and_the_report_still_says_incomplete(suites):
    suites.path.joinpath("suites/redis/test_redis.py").write_text(REDIS_PARTIAL)
    result, report = _run(suites, "suites/redis", "--allow-incomplete")
    assert report["summary"]["verdict"] == "incomplete"
    assert report["run"]["options"]["allow_incomplete"] is True
    assert result.ret == 0
    assert "(exit 0: --allow-incomplete)" in result.stdout.str()


def test_a_failure_beats_incomplete(suites):
    result, report = _run(suites, "suites/postgres")
    assert _outcomes(report)["PG-VERSION-MIN"] == "fail"
    assert report["summary"]["not_evaluated"]  # PG-TLS, PG-SCHEMA have no check
    assert report["summary"]["verdict"] == "fail"
    assert result.ret == 1
    assert _run(suites, "suites/postgres", "--allow-incomplete")[0].ret == 1


def test_target_not_configured_leaves_a_requirement_unevaluated_even_beside_a_passing_check(pytester):
    _suites(
        pytester,
        {
            "suites/redis/test_r.py": """
import pytest

@pytest.mark.requirement("REDIS-AUTH")
def test_auth_on_the_messaging_url(expect):
    expect.true("AUTH required", True)

@pytest.mark.requirement("REDIS-AUTH")
def test_auth_on_the_cache_url(expect):
    pytest.skip("target not configured: the cache Redis URL; set redis.urls.cache in the targets file")

@pytest.mark.requirement("REDIS-VERSION")
def test_version(expect):
    pytest.skip("not applicable: managed service reports no version")
"""
        },
    )
    result, report = _run(pytester, "suites/redis/test_r.py")
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["REDIS-AUTH"]["outcome"] == "skip"
    assert by_id["REDIS-AUTH"]["message"].startswith("target not configured: the cache Redis URL")
    assert report["summary"]["not_evaluated"] == ["REDIS-VERSION", "REDIS-AUTH"]
    assert report["summary"]["verdict"] == "incomplete" and result.ret == EXIT_INCOMPLETE
    # a file given as the path: requirements with no check in it are left out, not unevaluated
    assert {r["id"] for r in report["results"]} == {"REDIS-AUTH", "REDIS-VERSION"}


def test_a_waived_required_failure_passes(pytester):
    _suites(pytester, {"suites/postgres/test_pg.py": POSTGRES})
    pytester.makefile(".yaml", waivers="waivers:\n  - {id: PG-VERSION-MIN, reason: upgrade in Q1, owner: dba, "
                                        "expires: 2999-01-31}\n")  # fmt: skip
    path = "suites/postgres/test_pg.py"
    result, report = _run(pytester, path, "--waivers=waivers.yaml", "--allow-required-waivers")
    assert _outcomes(report) == {"PG-VERSION-MIN": "waived"}
    assert report["summary"]["verdict"] == "pass" and result.ret == 0
    result, report = _run(pytester, path, "--waivers=waivers.yaml")  # without the flag the waiver is rejected
    assert report["summary"]["verdict"] == "fail" and result.ret == 1


def test_k_and_m_leave_the_deselected_checks_out_of_scope(suites):
    result, report = _run(suites, "suites", "-k", "not test_auth")
    left_out = {r["id"]: r["reason"] for r in report["not_in_run"]}
    assert left_out["REDIS-AUTH"] == "its checks were deselected (-k, -m or --deselect)"
    # with -k, requirements that no selected check names are left out too (no check of them matched)
    assert left_out["K8S-NODE-COUNT"] == "no check of it matched -k/-m"
    assert set(_outcomes(report)) == {"REDIS-VERSION", "REDIS-EVICTION", "PG-VERSION-MIN", "SMTP-DELIVERY", "SMTP-TLS"}
    assert report["summary"]["verdict"] == "fail"  # PG-VERSION-MIN
    suites.makeini("[pytest]\nmarkers =\n    quick: quick checks\n")
    suites.path.joinpath("suites/redis/test_redis.py").write_text(
        REDIS.replace("def test_version", "@pytest.mark.quick\ndef test_version")
    )
    result, report = _run(suites, "suites", "-m", "quick")
    assert _outcomes(report) == {"REDIS-VERSION": "pass"}
    assert report["summary"]["verdict"] == "pass" and result.ret == 0


def test_a_whole_run_counts_requirements_without_a_check_as_not_evaluated(suites):
    result, report = _run(suites)
    assert report["not_in_run"] == []
    assert report["summary"]["total"] == CATALOG
    assert _outcomes(report)["K8S-STORAGECLASS"] == "skip"
    assert "no check implemented yet" in {r["id"]: r for r in report["results"]}["K8S-STORAGECLASS"]["message"]
    assert report["summary"]["verdict"] == "fail"  # PG-VERSION-MIN fails; fail beats incomplete


def test_read_only_leaves_write_only_requirements_out_of_scope(pytester):
    _suites(
        pytester,
        {
            "suites/prefect/test_p.py": """
import pytest

@pytest.mark.requirement("PREFECT-API-HEALTH")
def test_health(expect):
    expect.true("healthy", True)

@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_flow_run(expect):
    expect.true("flow run completed", True)
"""
        },
    )
    result, report = _run(pytester, "suites/prefect/test_p.py", "--read-only")
    assert {r["id"]: r["reason"] for r in report["not_in_run"]}["PREFECT-E2E-FLOW-RUN"] == (
        "read-only run: its checks write or load"
    )
    assert _outcomes(report) == {"PREFECT-API-HEALTH": "pass"}
    assert report["summary"]["verdict"] == "pass" and result.ret == 0
    # a read-only audit's PASS says what it left out, wherever the verdict is shown
    label = "PASS (read-only audit: 1 required requirement not in scope)"
    assert report["summary"]["verdict_label"] == label
    latest = pytester.path / "out" / "latest"
    result.stdout.fnmatch_lines([f"{label}: *"])
    assert f"## Prefect readiness: {label}" in (latest / "conformance.md").read_text()
    html = (latest / "conformance.html").read_text()
    assert f"<title>Prefect readiness — aws — {label}</title>" in html
    assert f'name="verdict_label" value="{label}"' in (latest / "junit.xml").read_text()
    result, report = _run(pytester, "suites/prefect/test_p.py")
    assert _outcomes(report) == {"PREFECT-API-HEALTH": "pass", "PREFECT-E2E-FLOW-RUN": "pass"}
    assert report["summary"]["verdict_label"] == "PASS"


def test_every_format_shows_the_verdict_and_what_was_not_in_this_run(suites):
    suites.path.joinpath("suites/redis/test_redis.py").write_text(REDIS_PARTIAL)
    _, report = _run(suites, "suites/redis")
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    run_dir = suites.path / "out" / "latest"
    md = (run_dir / "conformance.md").read_text()
    assert md.startswith("## Prefect readiness: INCOMPLETE")
    assert "**INCOMPLETE**: 1 required requirement(s) in scope not evaluated" in md
    assert "Not in this run (" in md and "PG-VERSION-MIN" in md
    html = (run_dir / "conformance.html").read_text()
    assert '<span class="verdict incomplete">INCOMPLETE</span>' in html
    assert 'id="not-in-run"' in html
    junit = ET.parse(run_dir / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.find("properties")}
    assert props["verdict"] == "incomplete" and "PG-VERSION-MIN" in props["not_in_run"].split()
    verdict_case = [c for c in junit.iter("testcase") if c.get("name") == "verdict: INCOMPLETE"]
    assert verdict_case and verdict_case[0].find("failure") is not None
    assert junit.get("failures") == "1"


def test_xdist_workers_hand_the_scope_to_the_controller(suites):
    serial_run, serial = _run(suites, "suites/redis", "suites/postgres", "-k", "not test_auth", out="serial")
    parallel_run, parallel = _run(
        suites, "suites/redis", "suites/postgres", "-k", "not test_auth", "-n", "2", out="parallel"
    )
    assert parallel["not_in_run"] == serial["not_in_run"]
    assert parallel["summary"] == serial["summary"]
    assert parallel_run.ret == serial_run.ret == 1


LOAD = """
import pytest

from readiness.engine.plugin import record_load


@pytest.fixture(scope="session")
def load_run(request):
    stats = {"total": {"requests": 120, "rps": 8.0, "p95_ms": 350.0}, "error_ratio": 0.0, "history": [[0, 4.0]]}
    record_load(request.config, stats)
    return stats


@pytest.mark.requirement("LOAD-LATENCY", effect="load")
def test_latency(load_run, expect):
    expect.at_most("p95 latency", load_run["total"]["p95_ms"], 6000, unit="ms")


@pytest.mark.requirement("LOAD-ERRORS", effect="load")
def test_errors(load_run, expect):
    expect.at_most("error ratio", load_run["error_ratio"], 0.01)
"""


def test_load_figures_reach_the_report_from_an_xdist_worker(pytester):
    """The load suite's one Locust run happens on a worker under `-n 2`: its statistics (and so the charts)
    still reach the controller's report, as in a serial run."""
    _suites(pytester, {"suites/load/test_load.py": LOAD})
    _, serial = _run(pytester, "suites/load", out="serial")
    _, parallel = _run(pytester, "suites/load", "-n", "2", out="parallel")
    assert serial["load"]["total"] == {"requests": 120, "rps": 8.0, "p95_ms": 350.0}
    assert parallel["load"] == serial["load"]
    html = (pytester.path / "parallel" / "latest" / "conformance.html").read_text()
    assert "120" in html and "Load" in html
