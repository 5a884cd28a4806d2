"""The end-of-run summary in the terminal: one table per component, then what needs attention."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from readiness.redact import Redactor
from readiness.writers import OUTCOME_ORDER, component_counts, show_value

STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "magenta",
    "skip": "dim",
    "waived": "blue",
}


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
    table = Table(
        title=f"Prefect readiness — profile {report['run']['profile']}: {summary['verdict'].upper()}",
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
        if result["outcome"] != "error" and result["observed"] is not None:
            detail = (
                f"observed {show_value(result['observed'], result['unit'])}, "
                f"expected {show_value(result['expected'], result['unit'])}"
            )
        console.print(
            f"[{STYLE[result['outcome']]}]{result['outcome'].upper():<5}[/] {result['id']}: {detail}",
            markup=True,
            soft_wrap=True,
        )
    for kind in ("expired", "rejected", "unmatched"):
        for waiver in report["waivers"][kind]:
            console.print(f"waiver {kind}: {waiver['id']} ({waiver['owner']}, expires {waiver['expires']})")
    if report_dir is not None:
        console.print(f"report: {report_dir}/conformance.html (also .json, .md, junit.xml)")
    return buffer.getvalue()


def print_summary(report: dict[str, Any], report_dir: Path | None, terminalreporter: Any, redactor: Redactor) -> None:
    color = bool(getattr(terminalreporter, "hasmarkup", False))
    width = getattr(terminalreporter, "_tw", None)
    text = render_summary(report, report_dir, width=getattr(width, "fullwidth", 120) or 120, color=color)
    terminalreporter.write_sep("=", "prefect-readiness")
    terminalreporter.write(redactor.text(text))
