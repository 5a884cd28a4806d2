"""The conformance report: built once from the run's results, written in every format.

`build_report` makes the canonical dict (what conformance.json holds); the writers render it. Every
string goes through the redactor before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from readiness import __version__
from readiness.core import humanize
from readiness.core.model import NOT_CONFIGURED, CheckResult, Outcome, Verdict, rank, run_verdict, worst
from readiness.core.profile import Level, Profile
from readiness.core.redact import Redactor
from readiness.core.waivers import WaiverDecision
from readiness.report import remediation
from readiness.report.prometheus import write_textfile

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("conformance.schema.json")
REPORT_FILES = ("conformance.json", "conformance.html", "conformance.md", "junit.xml")


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _not_configured(checks: list[CheckResult]) -> CheckResult | None:
    return next((c for c in checks if c.outcome is Outcome.skip and c.message.startswith(NOT_CONFIGURED)), None)


def _outcome_of_checks(level: Level, checks: list[CheckResult]) -> Outcome:
    outcome = worst([c.outcome for c in checks])
    # A check whose target is not configured leaves the requirement unevaluated, whatever its other
    # checks saw (unless one of them already failed).
    if outcome in (Outcome.passed, Outcome.waived) and _not_configured(checks) is not None:
        return Outcome.skip
    # A recommended or optional requirement that is not met warns; a required one fails.
    if outcome is Outcome.fail and level is not Level.required:
        return Outcome.warn
    if outcome is Outcome.warn and level is Level.required:
        return Outcome.fail
    return outcome


def _decisive(checks: list[CheckResult]) -> tuple[CheckResult | None, dict[str, Any] | None]:
    """The check and observation a reader should see first: the worst one, its unmet expectation."""
    if not checks:
        return None, None
    check = min(checks, key=lambda c: rank(c.outcome))
    if check.outcome in (Outcome.passed, Outcome.waived):
        check = _not_configured(checks) or check
    if not check.observations:
        return check, None
    unmet = [o for o in check.observations if not o.met]
    observation = (unmet or check.observations)[-1]
    return check, {
        "label": observation.label,
        "observed": observation.observed,
        "expected": observation.expected,
        "unit": observation.unit,
        "evidence": observation.evidence,
        "observed_text": observation.observed_text
        or humanize.sentence(observation.label, observation.observed, observation.unit),
        "expected_text": observation.expected_text
        or humanize.sentence(observation.label, observation.expected, observation.unit),
    }


def _nothing_observed(outcome: Outcome) -> str:
    if outcome is Outcome.error:
        return "not measured: the check could not run (see the message)"
    return "not measured in this run"


def _rule_of(params: dict[str, Any] | None) -> str:
    """The requirement's parameters as the rule reads, when no check stated it (min_vcpu 8 -> 'min vcpu: 8')."""
    if not params:
        return "see the requirement"
    parts = []
    for key, value in params.items():
        words, unit = key, None
        for suffix, name in _PARAM_UNITS.items():
            if key.endswith(suffix):
                words, unit = key.removesuffix(suffix), name
                break
        parts.append(f"{words.replace('_', ' ')}: {humanize.with_unit(value, unit)}")
    return "; ".join(parts)


#: A parameter's name ends in its unit (min_memory_gib, timeout_s).
_PARAM_UNITS = {
    "_gib": "GiB",
    "_mib": "MiB",
    "_ms": "ms",
    "_s": "s",
    "_vcpu": "vCPU",
    "_ratio": "ratio",
    "_pct": "%",
    "_days": "days",
    "_bits": "bits",
    "_rps": "req/s",
}


#: the outcomes whose remediation is rendered with the install's names (a pass keeps the profile's text)
NEEDS_A_FIX = frozenset({Outcome.fail, Outcome.warn, Outcome.error})


def _observations(checks: list[CheckResult], decisive: CheckResult | None) -> list[dict[str, Any]]:
    """Every observation of a requirement's checks, the decisive check's unmet ones first."""
    ordered = ([decisive] if decisive is not None else []) + [c for c in checks if c is not decisive]
    out: list[dict[str, Any]] = []
    for check in ordered:
        out += [vars(o) for o in check.observations if not o.met]
        out += [vars(o) for o in check.observations if o.met]
    return out


def requirement_outcomes(profile: Profile, checks: list[CheckResult]) -> dict[str, Outcome]:
    by_requirement: dict[str, list[CheckResult]] = {}
    for check in checks:
        by_requirement.setdefault(check.requirement, []).append(check)
    return {
        req_id: _outcome_of_checks(req.level, by_requirement.get(req_id, []))
        for req_id, req in profile.requirements.items()
    }


def build_report(
    *,
    run_id: str,
    profile: Profile,
    checks: list[CheckResult],
    waivers: WaiverDecision,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    options: dict[str, Any],
    redactor: Redactor,
    load: dict[str, Any] | None = None,
    not_in_run: dict[str, str] | None = None,
    targets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`not_in_run` maps the requirements the user left out on purpose to the reason (see scope.py);
    they are listed apart and do not count. Every other requirement of the profile is in `results`.
    `targets`: the targets resolved in the run (secrets left out), which the remediation names."""
    not_in_run = not_in_run or {}
    fixes = remediation.Context(
        cloud=profile.cloud,
        targets=targets or {},
        catalog=profile.catalog,
        params={req_id: req.params or {} for req_id, req in profile.requirements.items()},
    )
    by_requirement: dict[str, list[CheckResult]] = {}
    for check in checks:
        by_requirement.setdefault(check.requirement, []).append(check)

    results = []
    left_out = []
    for req_id, req in profile.requirements.items():
        req_checks = by_requirement.get(req_id, [])
        if req_id in not_in_run:
            left_out.append(
                {
                    "id": req_id,
                    "component": req.component,
                    "title": req.title,
                    "level": req.level.value,
                    "reason": not_in_run[req_id],
                }
            )
            continue
        outcome = _outcome_of_checks(req.level, req_checks)
        decisive_check, observation = _decisive(req_checks)
        message = decisive_check.message if decisive_check else ""
        if not req_checks and options.get("interrupted"):
            by = options.get("interrupted_by") or "an interruption"
            message = f"not run: the run was stopped ({by}) before a check of this requirement started"
        elif not req_checks:
            message = "no check ran for this requirement in this run (no check implemented yet)"
        waiver = waivers.applied.get(req_id)
        waiver_data = None
        if waiver is not None:
            waiver_data = {
                "reason": waiver.reason,
                "owner": waiver.owner,
                "expires": waiver.expires.isoformat(),
                "original_outcome": outcome.value,
            }
            outcome = Outcome.waived
        rendered = None
        if outcome in NEEDS_A_FIX or (waiver_data and Outcome(waiver_data["original_outcome"]) in NEEDS_A_FIX):
            rendered = remediation.render(req_id, _observations(req_checks, decisive_check), fixes)
            rendered = redactor.text(rendered) if rendered else None  # a fix quotes evidence: never a secret
        results.append(
            {
                "id": req_id,
                "component": req.component,
                "title": req.title,
                "level": req.level.value,
                "outcome": outcome.value,
                "message": message,
                # People read `observed`/`expected` (sentences); machines (diff, drift, Prometheus) read the
                # typed `observed_value`/`expected_value`.
                "label": observation["label"] if observation else "",
                "observed": observation["observed_text"] if observation else _nothing_observed(outcome),
                "expected": observation["expected_text"] if observation else _rule_of(req.params),
                "observed_value": observation["observed"] if observation else None,
                "expected_value": observation["expected"] if observation else req.params or None,
                "unit": observation["unit"] if observation else None,
                "evidence": observation["evidence"] if observation else {},
                "duration_s": round(sum(c.duration_s for c in req_checks), 3),
                "source": req.source,
                "rationale": req.rationale,
                # rendered from what the run observed (names, commands); the profile's text when it saw none
                "remediation": rendered or req.remediation,
                "remediation_generic": req.remediation,
                "waiver": waiver_data,
                "checks": [c.to_dict() for c in req_checks],
            }
        )

    counts = Counter(r["outcome"] for r in results)
    summary: dict[str, Any] = {o.value: counts.get(o.value, 0) for o in Outcome}
    summary["total"] = len(results)
    summary["not_in_run"] = len(left_out)
    verdict = run_verdict(
        [(r["level"], Outcome(r["outcome"])) for r in results],
        strict=bool(options.get("strict")),
        interrupted=bool(options.get("interrupted")),
    )
    summary["verdict"] = verdict.value
    summary["not_evaluated"] = [r["id"] for r in results if r["level"] == "required" and r["outcome"] == "skip"]
    summary["verdict_reason"] = verdict_reason(verdict, summary, options)
    summary["verdict_label"] = verdict_label(verdict, left_out)

    def _waiver(w: Any, note: str | None = None) -> dict[str, Any]:
        data = {"id": w.id, "reason": w.reason, "owner": w.owner, "expires": w.expires.isoformat()}
        if note:
            data["note"] = note
        return data

    report = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": run_id,
            "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": finished_at.isoformat(timespec="seconds"),
            "duration_s": round((finished_at - started_at).total_seconds(), 3),
            "profile": profile.name,
            "profile_files": [str(p) for p in profile.files],
            "cloud": profile.cloud,
            "tool_version": __version__,
            "host": socket.gethostname(),
            "python": platform.python_version(),
            "options": options,
            "interrupted": bool(options.get("interrupted")),
            "interrupted_by": options.get("interrupted_by"),
        },
        "summary": summary,
        "results": results,
        "not_in_run": left_out,
        "waivers": {
            "applied": [_waiver(w) for w in waivers.applied.values()],
            "expired": [_waiver(w) for w in waivers.expired],
            "unmatched": [_waiver(w) for w in waivers.unmatched],
            "rejected": [_waiver(w, note) for w, note in waivers.rejected],
        },
        "load": load,
        "drift": None,
    }
    # Check messages and observations were redacted when recorded; the writers redact every file again.
    return report


def verdict_label(verdict: Verdict, left_out: list[dict[str, Any]]) -> str:
    """The verdict as a reader sees it: a read-only audit that left required requirements out says so, so
    its PASS is never mistaken for a full run's ("PASS (read-only audit: 1 required requirement not in scope)")."""
    label = verdict.value.upper()
    read_only = [r for r in left_out if r["level"] == "required" and r["reason"].startswith("read-only run")]
    if read_only:
        n = len(read_only)
        label += f" (read-only audit: {n} required requirement{'s' if n != 1 else ''} not in scope)"
    return label


def verdict_reason(verdict: Verdict, summary: dict[str, Any], options: dict[str, Any]) -> str:
    """One line saying why the run got its verdict."""
    if verdict is Verdict.fail:
        bad = [f"{summary[o]} {o}" for o in ("fail", "error") if summary[o]]
        if options.get("strict") and summary["warn"]:
            bad.append(f"{summary['warn']} warn (--strict)")
        if options.get("interrupted"):
            bad.append(f"the run was interrupted ({options.get('interrupted_by') or 'SIGINT'})")
        return ", ".join(bad)
    if verdict is Verdict.incomplete:
        if options.get("interrupted"):
            return f"the run was interrupted ({options.get('interrupted_by') or 'SIGINT'}) before every check ran"
        missing = summary["not_evaluated"]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            return f"{len(missing)} required requirement(s) in scope not evaluated: {shown}"
        return "no requirement in scope was evaluated"
    return "every required requirement in scope passed or is waived"


def _to_job_summary(markdown: str) -> None:
    """GitHub Actions shows what a step appends to $GITHUB_STEP_SUMMARY as the job's summary."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")
    except OSError as exc:
        print(f"prefect-readiness: cannot append the report to GITHUB_STEP_SUMMARY ({target}): {exc}", file=sys.stderr)


def write_reports(report: dict[str, Any], report_dir: Path, redactor: Redactor) -> Path:
    """Write all four files under report_dir/<run-id>/ and point report_dir/latest at it."""
    from readiness.report.writers import write_html, write_junit, write_markdown

    started = time.perf_counter()
    run_dir = report_dir / report["run"]["id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    # No indent: json's C encoder only runs without one (four times faster on big reports).
    (run_dir / "conformance.json").write_text(redactor.text(json.dumps(report, default=str)) + "\n")
    markdown = redactor.text(write_markdown(report))
    (run_dir / "conformance.md").write_text(markdown)
    _to_job_summary(markdown)
    (run_dir / "conformance.html").write_text(redactor.text(write_html(report)))
    (run_dir / "junit.xml").write_text(redactor.text(write_junit(report)))
    write_textfile(report, run_dir)  # conformance.prom, for monitoring
    latest = report_dir / "latest"
    tmp = report_dir / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        tmp.replace(latest)
    except OSError:  # filesystems without symlinks: a file naming the run
        tmp.unlink(missing_ok=True)
        if latest.is_dir() and not latest.is_symlink():
            pass
        else:
            latest.unlink(missing_ok=True)
            latest.write_text(run_dir.name + "\n")
    report["run"]["report_write_s"] = round(time.perf_counter() - started, 4)
    return run_dir
