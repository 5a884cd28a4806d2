"""`readiness requirements` and `readiness profiles`: the catalog and the shipped profiles, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from readiness.core.profile import PROFILE_DIR, ProfileError, load_profile


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    requirements = subparsers.add_parser(
        "requirements",
        help="print the requirement catalog of a profile",
        description="The requirements a profile checks: ID, component, level, expectation (the profile's "
        "parameters) and the sentence of the documentation it comes from.",
    )
    requirements.add_argument("--profile", default="base", metavar="NAME|FILE.yaml", help="default: base")
    requirements.add_argument("--format", choices=("table", "json"), default="table")
    requirements.set_defaults(func=run_requirements)
    profiles = subparsers.add_parser("profiles", help="list the shipped profiles with their description")
    profiles.add_argument("--format", choices=("table", "json"), default="table")
    profiles.set_defaults(func=run_profiles)


def _expectation(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in params.items()) or "—"


def run_requirements(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"readiness requirements: error: {exc}", file=sys.stderr)
        return 4
    rows = [
        {
            "id": r.id,
            "component": r.component,
            "level": r.level.value,
            "title": r.title,
            "params": r.params,
            "timeout_s": profile.timeout_for(r.id),
            "source": r.source,
        }
        for r in profile.requirements.values()
    ]
    if args.format == "json":
        print(json.dumps({"profile": profile.name, "requirements": rows}, indent=2, default=str))
        return 0
    if not sys.stdout.isatty():
        _print_plain(profile.name, rows)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"profile {profile.name}: {len(rows)} requirements", title_justify="left")
    for column in ("ID", "component", "level"):
        table.add_column(column, no_wrap=True)
    table.add_column("expectation", overflow="fold")
    table.add_column("source", overflow="fold")
    for row in rows:
        table.add_row(row["id"], row["component"], row["level"], _expectation(row["params"]), row["source"])
    Console(highlight=False, emoji=False).print(table)
    return 0


def _print_plain(name: str, rows: list[dict[str, Any]]) -> None:
    """Piped into a file, `less` or a CI log: one block per requirement, wrapped at COLUMNS (else 100)."""
    import os
    import textwrap

    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 100
    width = max(width, 40)
    id_width = max(len(r["id"]) for r in rows)
    component_width = max(len(r["component"]) for r in rows)
    print(f"profile {name}: {len(rows)} requirements")
    for row in rows:
        head = f"{row['id']:<{id_width}}  {row['component']:<{component_width}}  {row['level']}"
        print(textwrap.fill(head, width))
        for label, text in (("expects", _expectation(row["params"])), ("source", row["source"])):
            print(textwrap.fill(f"{label}: {text}", width, initial_indent="    ", subsequent_indent="      "))


def run_profiles(args: argparse.Namespace) -> int:
    rows = []
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        try:
            profile = load_profile(path.stem)
        except ProfileError as exc:
            print(f"readiness profiles: error: {exc}", file=sys.stderr)
            return 4
        rows.append(
            {
                "name": profile.name,
                "description": profile.description,
                "cloud": profile.cloud,
                "extends": [p.stem for p in profile.files[:-1]],
                "requirements": len(profile.requirements),
                "file": str(path),
            }
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        chain = f" (extends {' -> '.join(row['extends'])})" if row["extends"] else ""
        print(f"{row['name']:<{width}}  {row['description']}{chain}")
    return 0
