"""The end-of-run summary in the terminal: the verdict first, a table per component, what needs attention,
what was not in this run, and where the report is (one unwrapped line)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from readiness.core.model import EXIT_INCOMPLETE
from readiness.core.redact import Redactor
from readiness.report.writers import OUTCOME_ORDER, component_counts, fix_line, said_text

STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "magenta",
    "skip": "dim",
    "waived": "blue",
}


VERDICT_STYLE = {"pass": "bold green", "incomplete": "bold yellow", "fail": "bold red"}


def label(summary: dict[str, Any]) -> str:
    """The verdict as titles print it (a read-only audit says so); reports before the label had none."""
    return str(summary.get("verdict_label") or summary["verdict"].upper())


def verdict_line(report: dict[str, Any]) -> str:
    """`VERDICT: reason (exit N)`: the first line of the summary, what a gate decides on."""
    summary, options = report["summary"], report["run"]["options"]
    verdict = summary["verdict"]
    line = f"{label(summary)}: {summary.get('verdict_reason', '')}"
    if verdict == "incomplete":
        if options.get("allow_incomplete"):
            line += " (exit 0: --allow-incomplete)"
        elif not options.get("interrupted"):
            line += f" (exit {EXIT_INCOMPLETE}; --allow-incomplete accepts it)"
    return line


def render_summary(report: dict[str, Any], report_dir: Path | None, width: int = 120, color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,  # the emoji table alone costs 40 ms to import,
    )
    summary = report["summary"]
    verdict = summary["verdict"]
    console.print(f"[{VERDICT_STYLE[verdict]}]{escape(verdict_line(report))}[/]", markup=True, soft_wrap=True)
    table = Table(
        title=f"Prefect readiness — profile {report['run']['profile']}: {label(summary)}",
        title_justify="left",
    )
    table.add_column("component")
    for outcome in OUTCOME_ORDER:
        table.add_column(outcome, justify="right", style=STYLE[outcome])
    for name, row in component_counts(report).items():
        table.add_row(name, *[str(row[o]) if row[o] else "" for o in OUTCOME_ORDER])
    table.add_row("total", *[str(summary[o]) for o in OUTCOME_ORDER], style="bold")
    console.print(table)
    for result in report["results"]:
        if result["outcome"] not in ("fail", "error", "warn"):
            continue
        detail = result["message"]
        if result["outcome"] != "error" and result.get("observed_value", result["observed"]) is not None:
            detail = f"observed {said_text(result, 'observed')}; expected {said_text(result, 'expected')}"
        console.print(
            f"[{STYLE[result['outcome']]}]{result['outcome'].upper():<5}[/] {result['id']}: {escape(detail)}",
            markup=True,
            soft_wrap=True,
        )
        fix = fix_line(result)
        if fix:
            console.print(f"      {escape(fix)}", markup=True, soft_wrap=True)
    for kind in ("expired", "rejected", "unmatched"):
        for waiver in report["waivers"][kind]:
            console.print(
                f"waiver {kind}: {waiver['id']} ({waiver['owner']}, expires {waiver['expires']})", soft_wrap=True
            )
    left_out = report.get("not_in_run") or []
    if left_out:
        console.print(f"not in this run ({len(left_out)}, not counted): " + ", ".join(r["id"] for r in left_out),
                      soft_wrap=True)  # fmt: skip
    text = buffer.getvalue()
    if report_dir is not None:
        # Plain text, never wrapped: a path broken over two lines cannot be copied or clicked.
        text += report_paths_line(report_dir) + "\n"
    return text


def report_paths_line(report_dir: Path) -> str:
    return f"report: {report_dir}/conformance.html (also conformance.json, conformance.md, junit.xml)"


def print_summary(report: dict[str, Any], report_dir: Path | None, terminalreporter: Any, redactor: Redactor) -> None:
    color = bool(getattr(terminalreporter, "hasmarkup", False))
    width = getattr(terminalreporter, "_tw", None)
    text = render_summary(report, report_dir, width=getattr(width, "fullwidth", 120) or 120, color=color)
    terminalreporter.write_sep("=", f"prefect-readiness: {label(report['summary'])}")
    terminalreporter.write(redactor.text(text))
