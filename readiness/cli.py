"""The `readiness` command: sandbox management and report tools."""

from __future__ import annotations

import argparse
import sys

from readiness import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readiness",
        description="Readiness and conformance suite for self-managed Prefect. "
        "Run the checks with `pytest --profile NAME`; this command manages the sandbox and reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from readiness.sandbox.cli import add_parser as add_sandbox

    add_sandbox(sub)
    from readiness.catalog_cli import add_parsers as add_catalog

    add_catalog(sub)
    from readiness.targets_cli import add_parser as add_targets

    add_targets(sub)
    from readiness.runner import add_parser as add_run

    add_run(sub)
    try:
        from readiness.drift import add_parser as add_diff
    except ImportError:  # pragma: no cover - during bootstrap
        pass
    else:
        add_diff(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "pass_unknown", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.unknown = unknown  # `readiness run` hands them to pytest
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `readiness requirements | head`: the reader left, nothing more to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
