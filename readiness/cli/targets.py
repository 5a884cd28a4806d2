"""`readiness targets`: the resolved targets, each value with where it came from (secrets redacted)."""

from __future__ import annotations

import argparse
import json
import sys

from readiness.targets import HINTS, TargetsError, all_keys, resolve_targets


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "targets",
        help="print where the install lives, as the suites will see it, with each value's source",
        description="Resolve the targets as a run would (the targets file, then KUBECONFIG/PREFECT_*/PG*/"
        "REDIS_URL and the cloud SDKs' variables, then read-only discovery from the cluster) and print "
        "each value with its source. Secrets are shown as ***.",
    )
    parser.add_argument("--targets", metavar="FILE.yaml", help="targets file (default: $READINESS_TARGETS)")
    parser.add_argument("--kube-context", metavar="NAME", help="kubeconfig context (default: the current one)")
    parser.add_argument("--no-discovery", action="store_true", help="do not ask the cluster")
    parser.add_argument("--all", action="store_true", help="also list the keys nothing configured")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        targets = resolve_targets(args.targets, kube_context=args.kube_context, discover=not args.no_discovery)
    except TargetsError as exc:
        print(f"readiness targets: error: {exc}", file=sys.stderr)
        return 4
    rows = [(key, value.shown(), value.source) for key, value in targets.items(discover=not args.no_discovery)]
    if args.all:
        known = {key for key, _, _ in rows}
        rows += [(key, None, f"not configured ({HINTS[key]})" if key in HINTS else "not configured")
                 for key in all_keys() if key not in known]  # fmt: skip
    if args.format == "json":
        data = {
            "file": str(targets.file) if targets.file else None,
            "values": {key: {"value": value, "source": source} for key, value, source in rows},
            "notes": targets.notes,
        }
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"targets file: {targets.file or '(none: conventions and discovery only)'}")
    width = max((len(key) for key, _, _ in rows), default=10)
    for key, value, source in rows:
        shown = json.dumps(value) if isinstance(value, dict | list) else ("-" if value is None else str(value))
        print(f"{key:<{width}}  {shown}  [{source}]")
    for note in targets.notes:
        print(f"note: {note}")
    return 0
