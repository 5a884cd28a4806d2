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
        description="Resolve the targets as a run would (the targets file, the prefect-helm values files, then "
        "KUBECONFIG/PREFECT_*/PG*/REDIS_URL and the cloud SDKs' variables, then read-only discovery from the "
        "cluster) and print each value with its source. Secrets are shown as ***; a value the install keeps in "
        "a Secret is shown as that Secret's name and key, never read.",
    )
    parser.add_argument("--targets", metavar="FILE.yaml", help="targets file (default: $READINESS_TARGETS)")
    parser.add_argument(
        "--targets-from-helm",
        action="append",
        default=[],
        metavar="VALUES.yaml",
        help="a values file of the prefect-server or prefect-worker chart (repeatable; later files win)",
    )
    parser.add_argument(
        "--helm-release", metavar="[NAMESPACE/]NAME", help="the prefect-server release (default: prefect-server)"
    )
    parser.add_argument("--kube-context", metavar="NAME", help="kubeconfig context (default: the current one)")
    parser.add_argument("--no-discovery", action="store_true", help="do not ask the cluster")
    parser.add_argument("--all", action="store_true", help="also list the keys nothing configured")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        targets = resolve_targets(
            args.targets,
            kube_context=args.kube_context,
            discover=not args.no_discovery,
            helm_values=args.targets_from_helm,
            helm_release=args.helm_release,
        )
    except TargetsError as exc:
        print(f"readiness targets: error: {exc}", file=sys.stderr)
        return 4
    rows = [(key, value.shown(), value.source) for key, value in targets.items(discover=not args.no_discovery)]
    # what the install keeps in a Secret this run does not read: the reference, where nothing gave a value
    known = {key for key, _, _ in rows}
    references = {key: ref for key, ref in targets.references.items() if key not in known}
    rows += [(key, f"{ref.value} (not read)", ref.source) for key, ref in references.items()]
    order = {key: index for index, key in enumerate(all_keys())}
    rows.sort(key=lambda row: order.get(row[0], len(order)))
    if args.all:
        known = {key for key, _, _ in rows}
        rows += [(key, None, f"not configured ({HINTS[key]})" if key in HINTS else "not configured")
                 for key in all_keys() if key not in known]  # fmt: skip
    if args.format == "json":
        data = {
            "file": str(targets.file) if targets.file else None,
            "values": {
                key: {"value": None, "reference": references[key].value, "source": source}
                if key in references
                else {"value": value, "source": source}
                for key, value, source in rows
            },
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
