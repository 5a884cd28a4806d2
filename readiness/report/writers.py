"""Renderers of the canonical report: Markdown, self-contained HTML and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from readiness.core import humanize
from readiness.core.model import SEVERITY

OUTCOME_ORDER = tuple(o.value for o in SEVERITY)
#: what needs attention, worst first
ATTENTION = ("fail", "error", "warn")
ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "skip": "⏭️", "waived": "📝"}


def show_value(value: Any, unit: str | None = None) -> str:
    """A typed value in words (drift's was/now); a result's sentences are read with `said`."""
    if value is None:
        return "—"
    text = humanize.with_unit(value, unit)
    if len(text) > 120:
        text = text[:117] + "..."
    return text


def said(result: dict[str, Any], side: str) -> tuple[str, list[str] | None]:
    """A result's `observed` or `expected` sentence, and its items when the value is a list a report shows as
    one (the sentence then reads as the subject, the items under it)."""
    text = result.get(side)
    value = result.get(f"{side}_value")
    if not isinstance(text, str):  # a report written before the sentences: the typed value in words
        return humanize.with_unit(text, result.get("unit")), humanize.items_of(text)
    items = humanize.items_of(value)
    label = result.get("label") or ""
    if items and label and text == humanize.sentence(label, value, result.get("unit")):
        return label, items
    return text, None


def said_text(result: dict[str, Any], side: str) -> str:
    """`said` on one line (terminal, JUnit)."""
    text, items = said(result, side)
    return f"{text}: {humanize.listing(items)}" if items else text


def _said_html(result: dict[str, Any], side: str) -> Markup:
    text, items = said(result, side)
    if not items:
        return Markup(escape(text))
    return (
        Markup(f"{escape(text)}:<ul>")
        + Markup("").join(Markup(f"<li>{escape(i)}</li>") for i in items)
        + Markup("</ul>")
    )


def _said_md(result: dict[str, Any], side: str) -> str:
    text, items = said(result, side)
    if not items:
        return _md_cell(text)
    return _md_cell(text) + ":<ul>" + "".join(f"<li>{_md_cell(i)}</li>" for i in items) + "</ul>"


def _fix_html(text: str | None) -> Markup:
    """A remediation for HTML: escaped, its `commands` as <code>."""
    parts = escape(text or "").split("`")
    return Markup("").join(Markup(f"<code>{part}</code>") if i % 2 else Markup(part) for i, part in enumerate(parts))


def fix_line(result: dict[str, Any]) -> str:
    """`fix: ...` for a result that needs one (fail, warn, error), else ''."""
    return f"fix: {result['remediation']}" if result["outcome"] in ATTENTION and result.get("remediation") else ""


def components(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for result in report["results"]:
        out.setdefault(result["component"], []).append(result)
    return out


def component_counts(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for name, results in components(report).items():
        row = dict.fromkeys(OUTCOME_ORDER, 0)
        for result in results:
            row[result["outcome"]] += 1
        counts[name] = row
    return counts


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(report: dict[str, Any]) -> str:
    run, summary = report["run"], report["summary"]
    verdict = summary.get("verdict_label") or summary["verdict"].upper()
    lines = [
        f"## Prefect readiness: {verdict} — profile `{run['profile']}`",
        "",
        f"**{verdict}**: {_md_cell(summary.get('verdict_reason', ''))}",
        "",
        " · ".join(f"{ICON[o]} {summary[o]} {o}" for o in OUTCOME_ORDER if summary.get(o)),
        "",
        f"Run `{run['id']}`, {run['started_at']}, {run['duration_s']} s.",
        "",
    ]
    attention = [r for r in report["results"] if r["outcome"] in ATTENTION]
    if attention:
        lines += [
            "| | Requirement | Level | Observed | Expected | Remediation |",
            "|---|---|---|---|---|---|",
        ]
        attention.sort(key=lambda r: OUTCOME_ORDER.index(r["outcome"]))
        for r in attention:
            observed = _md_cell(r["message"]) if r["outcome"] == "error" else _said_md(r, "observed")
            lines.append(
                f"| {ICON[r['outcome']]} | **{r['id']}** {_md_cell(r['title'])} | {r['level']} | "
                f"{observed} | {_said_md(r, 'expected')} | "
                f"{_md_cell(r['remediation'])} |"
            )
        lines.append("")
    else:
        lines += ["Every evaluated requirement passed or is waived.", ""]
    left_out = report.get("not_in_run") or []
    if left_out:
        lines += [f"Not in this run ({len(left_out)}, not counted): " + ", ".join(r["id"] for r in left_out), ""]
    waivers = report.get("waivers") or {}
    for kind in ("expired", "rejected", "unmatched"):
        if waivers.get(kind):
            ids = ", ".join(w["id"] for w in waivers[kind])
            lines.append(f"- Waivers {kind}: {ids}")
    if report.get("load"):
        lines += ["", load_line(report["load"])]
    drift = report.get("drift")
    if drift:
        lines += ["", f"### Drift since `{drift['baseline_run']}`", ""]
        lines += drift_lines(drift) or ["No change."]
    lines += ["", "| Component | " + " | ".join(OUTCOME_ORDER) + " |", "|---|" + "---|" * len(OUTCOME_ORDER)]
    for name, row in component_counts(report).items():
        lines.append(f"| {name} | " + " | ".join(str(row[o]) for o in OUTCOME_ORDER) + " |")
    lines += _folded_rest(report, budget=MARKDOWN_LIMIT - len("\n".join(lines).encode()) - 1024)
    return "\n".join(lines) + "\n"


#: GitHub caps a job summary (and a PR comment) near 64 KiB; the Markdown report stays under this
MARKDOWN_LIMIT = 60 * 1024


def _folded_rest(report: dict[str, Any], budget: int) -> list[str]:
    """What passed, folded away (`<details>`) under the table of what needs attention (skips and waivers are
    counted on the summary line); rows past the size budget are counted, not listed."""
    passed = [r for r in report["results"] if r["outcome"] == "pass"]
    if not passed:
        return []
    out = ["", f"<details><summary>{len(passed)} passed</summary>", "", "| | Requirement | Observed |", "|---|---|---|"]
    used = sum(len(line.encode()) + 1 for line in out)
    for shown, r in enumerate(passed):
        observed = _md_cell(said_text(r, "observed"))
        row = f"| {ICON['pass']} | **{r['id']}** {_md_cell(r['title'])} | {observed} |"
        if used + len(row.encode()) + 1 > budget:
            out.append(f"| | {len(passed) - shown} more, in conformance.html and conformance.json | |")
            break
        out.append(row)
        used += len(row.encode()) + 1
    return [*out, "", "</details>"]


def load_line(load: dict[str, Any]) -> str:
    """One Markdown line about the load run: volume, throughput, failures, latency, the brake."""
    total = load.get("total") or {}
    line = (
        f"Load: {total.get('requests', 0)} requests ({total.get('rps', 0)} req/s), "
        f"{load.get('error_ratio', 0):.1%} failed, p95 {total.get('p95_ms', 0):g} ms"
    )
    brake = load.get("brake") or {}
    if brake.get("stopped"):
        line += f"; **stopped early by the safety brake** after {brake.get('after_s')} s: {brake.get('reason')}"
    return line + "."


def drift_lines(drift: dict[str, Any]) -> list[str]:
    lines = []
    for item in drift["new_failures"]:
        lines.append(f"- new {item['outcome']}: **{item['id']}** (was {item['was']})")
    for item in drift["resolved"]:
        lines.append(f"- resolved: **{item['id']}** (was {item['was']}, now {item['outcome']})")
    for item in drift["changed"]:
        unit = item.get("unit")
        lines.append(
            f"- changed: **{item['id']}** observed {show_value(item['was'], unit)} → {show_value(item['now'], unit)}"
        )
    for item in drift.get("other", []):
        lines.append(f"- {item}")
    return lines


def write_junit(report: dict[str, Any]) -> str:
    summary, options = report["summary"], report["run"]["options"]
    incomplete = summary["verdict"] == "incomplete"
    allowed = bool(options.get("allow_incomplete"))
    failures = summary["fail"] + (summary["warn"] if options.get("strict") else 0)
    suite = ET.Element(
        "testsuite",
        name=f"prefect-readiness[{report['run']['profile']}]",
        tests=str(summary["total"] + incomplete),
        failures=str(failures + (incomplete and not allowed)),
        errors=str(summary["error"]),
        skipped=str(summary["skip"] + (incomplete and allowed)),
        time=str(report["run"]["duration_s"]),
        timestamp=report["run"]["started_at"],
    )
    suite_props = ET.SubElement(suite, "properties")
    ET.SubElement(suite_props, "property", name="verdict", value=summary["verdict"])
    ET.SubElement(suite_props, "property", name="verdict_reason", value=summary.get("verdict_reason", ""))
    if summary.get("verdict_label"):
        ET.SubElement(suite_props, "property", name="verdict_label", value=summary["verdict_label"])
    left_out = report.get("not_in_run") or []
    ET.SubElement(suite_props, "property", name="not_in_run", value=" ".join(r["id"] for r in left_out))
    for r in report["results"]:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"readiness.{r['component']}",
            name=f"{r['id']}: {r['title']}",
            time=str(r["duration_s"]),
        )
        props = ET.SubElement(case, "properties")
        for name, value in (
            ("requirement", r["id"]),
            ("level", r["level"]),
            ("component", r["component"]),
            ("outcome", r["outcome"]),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        detail = (
            f"{r['message']}\nobserved: {said_text(r, 'observed')}\n"
            f"expected: {said_text(r, 'expected')}\nremediation: {r['remediation']}"
        )
        # The message a CD test tab shows first: what went wrong and the fix.
        message = f"{r['message']} — {fix_line(r)}" if fix_line(r) else r["message"]
        if r["outcome"] == "fail" or (r["outcome"] == "warn" and report["run"]["options"].get("strict")):
            ET.SubElement(case, "failure", message=message).text = detail
        elif r["outcome"] == "error":
            ET.SubElement(case, "error", message=message).text = detail
        elif r["outcome"] == "skip":
            ET.SubElement(case, "skipped", message=r["message"])
        else:
            ET.SubElement(case, "system-out").text = detail
    if incomplete:
        # A CD test tab shows test cases: an incomplete gate must not look green there (unless accepted).
        case = ET.SubElement(suite, "testcase", classname="readiness.verdict", name="verdict: INCOMPLETE", time="0")
        message = f"INCOMPLETE: {summary.get('verdict_reason', '')}"
        ET.SubElement(case, "skipped" if allowed else "failure", message=message)
    if report.get("drift"):
        ET.SubElement(suite, "system-out").text = f"Drift since {report['drift']['baseline_run']}:\n" + "\n".join(
            drift_lines(report["drift"]) or ["No change."]
        )
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    # Compiling the template costs more than rendering it; keep the compiled form between runs.
    from readiness.core.cache import CACHE_ROOT

    folder = CACHE_ROOT / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder))


_env = Environment(
    loader=PackageLoader("readiness.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    bytecode_cache=_bytecode_cache(),
)
_env.filters["value"] = show_value
_env.filters["said"] = _said_html
_env.filters["fix"] = _fix_html
_env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, default=str)


def write_html(report: dict[str, Any]) -> str:
    template = _env.get_template("conformance.html.j2")
    return template.render(
        report=report,
        components=components(report),
        counts=component_counts(report),
        order=OUTCOME_ORDER,
        icon=ICON,
        drift_lines=drift_lines(report["drift"]) if report.get("drift") else [],
        attention=sorted(
            (r for r in report["results"] if r["outcome"] in ATTENTION),
            key=lambda r: OUTCOME_ORDER.index(r["outcome"]),
        ),
    )
