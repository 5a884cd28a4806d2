"""Every path-valued option, written as two arguments with a path outside the project, is refused with the
fix (pytest would take the path for a test path and move its rootdir); written as one argument it works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from readiness.engine import plugin

ROOT = Path(__file__).resolve().parents[2]


def _registered() -> dict[str, tuple[str, str | None]]:
    """flag -> (dest, metavar) of every option the plugin adds (including ones other modules land there)."""
    parser = pytest.Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    out = {}
    for group in parser._groups:
        for option in group.options:
            for name in option.names():
                if name.startswith("--"):
                    out[name] = (option.dest, option.attrs().get("metavar"))
    return out


def test_every_path_valued_option_is_in_the_one_table():
    pathlike = {
        flag
        for flag, (_, metavar) in _registered().items()
        if metavar and any(word in metavar for word in ("FILE", "DIR", ".json", ".yaml", "PATH"))
    }
    assert pathlike <= set(plugin.PATH_OPTIONS), pathlike - set(plugin.PATH_OPTIONS)
    for flag, dest in plugin.PATH_OPTIONS.items():
        if flag in _registered():
            assert _registered()[flag][0] == dest


#: the options that exist now; `--targets` joins when the targets model registers it
OPTIONS = [flag for flag in plugin.PATH_OPTIONS if flag in _registered()]


@pytest.mark.parametrize("flag", OPTIONS)
def test_a_path_option_outside_the_project_as_two_arguments_is_refused_with_the_fix(flag, tmp_path):
    outside = tmp_path / "reports" if flag == "--report-dir" else tmp_path / "file.yaml"
    if flag == "--report-dir":
        outside.mkdir()
    else:
        outside.write_text("{}\n")
    profile = [] if flag == "--profile" else ["--profile=sandbox"]
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *profile]
    two = subprocess.run([*base, flag, str(outside)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert two.returncode == 4, two.stdout + two.stderr
    assert f"{flag} {outside}: pytest took this path for a test path" in two.stderr
    assert f"write {flag}={outside} (one argument)" in two.stderr
