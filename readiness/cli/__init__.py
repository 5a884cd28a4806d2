"""The `readiness` command: sandbox management and report tools."""

from __future__ import annotations

import argparse
import sys

from readiness import __version__

#: One example (or a few) for every command, by its words after `readiness`; `build_parser` puts each in
#: its command's help. A command that already has an epilog (readiness run) keeps its own.
EXAMPLES: dict[str, str] = {
    "": """examples:
  readiness sandbox check                      # the main job: a conformance report of the local sandbox
  pytest --profile azure                        # check a real install (KUBECONFIG, PREFECT_API_URL, ...)
  readiness run --profile aws --read-only       # the same from an installed package, any folder
  readiness targets --all                       # where a run would look, and why
  readiness diff reports/old/conformance.json reports/latest/conformance.json""",
    "sandbox": """examples:
  readiness sandbox up && eval "$(readiness sandbox env)" && pytest --profile sandbox
  readiness sandbox --state-dir /tmp/sbx --only postgres up   # one component and what it needs
  readiness sandbox down""",
    "sandbox up": "example:\n  readiness sandbox up --scenario tls-expired --nodes 5",
    "sandbox down": "example:\n  readiness sandbox down",
    "sandbox status": "example:\n  readiness sandbox status || echo 'something is down'",
    "sandbox scenarios": "example:\n  readiness sandbox scenarios | grep '^tls-'",
    "sandbox env": 'example:\n  eval "$(readiness sandbox env)"   # exports READINESS_TARGETS',
    "sandbox apply": "example:\n  readiness sandbox apply redis-noauth && pytest --profile sandbox suites/redis",
    "sandbox revert": "example:\n  readiness sandbox revert redis-noauth",
    "sandbox check": "examples:\n  readiness sandbox check\n  readiness sandbox check --keep -- suites/edge -x",
    "targets": "examples:\n  readiness targets --targets targets.yaml\n  readiness targets --kube-context prod --all "
    "--format json",
    "requirements": "examples:\n  readiness requirements --profile azure\n  readiness requirements --format json | jq "
    "'.[].id'",
    "profiles": "example:\n  readiness profiles --format json",
    "diff": "example:\n  readiness diff baseline/conformance.json reports/latest/conformance.json || echo regressed",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _add_examples(parser: argparse.ArgumentParser, words: str = "") -> None:
    if not parser.epilog and words in EXAMPLES:
        parser.epilog = EXAMPLES[words]
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, sub in _subcommands(parser).items():
        _add_examples(sub, f"{words} {name}".strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readiness",
        description="Readiness and conformance suite for self-managed Prefect. "
        "Run the checks with `pytest --profile NAME`; this command manages the sandbox and reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from readiness.cli.sandbox import add_parser as add_sandbox

    add_sandbox(sub)
    from readiness.cli.catalog import add_parsers as add_catalog

    add_catalog(sub)
    from readiness.cli.targets import add_parser as add_targets

    add_targets(sub)
    from readiness.cli.run import add_parser as add_run

    add_run(sub)
    from readiness.cli.diff import add_parser as add_diff

    add_diff(sub)
    _add_examples(parser)
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
