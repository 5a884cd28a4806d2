"""Every command's help carries an example."""

from __future__ import annotations

import argparse

from readiness.cli import _subcommands, build_parser


def _all(parser: argparse.ArgumentParser, words: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(words, parser)]
    for name, sub in _subcommands(parser).items():
        out += _all(sub, f"{words} {name}".strip())
    return out


def test_every_command_help_has_an_example():
    commands = _all(build_parser())
    assert {"", "sandbox", "sandbox check", "targets", "requirements", "profiles", "diff", "run"} <= {
        words for words, _ in commands
    }
    for words, parser in commands:
        text = parser.format_help()
        assert "example" in text, f"`readiness {words} --help` has no example"
        assert "readiness" in text.split("example", 1)[1], f"`readiness {words} --help`: the example runs nothing"
