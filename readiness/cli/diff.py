"""`readiness diff OLD.json NEW.json`: the drift between two reports (readiness/report/drift.py computes it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from readiness.report.drift import DriftError, compute_drift, load_report


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="show what changed between two conformance.json reports",
        description="Print new failures, resolved items and changed observed values between two reports.",
    )
    parser.add_argument("old", type=Path, help="baseline conformance.json")
    parser.add_argument("new", type=Path, help="newer conformance.json")
    parser.add_argument("--json", action="store_true", help="print the drift as JSON")
    parser.set_defaults(func=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    from readiness.report.writers import drift_lines

    try:
        drift = compute_drift(load_report(args.old), load_report(args.new))
    except DriftError as exc:
        print(f"readiness diff: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(drift, indent=2, default=str))
    else:
        print(f"drift since {drift['baseline_run']}:")
        print("\n".join(drift_lines(drift)) or "no change")
    return 1 if drift["new_failures"] else 0
