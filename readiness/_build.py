"""Build step (setuptools `build_py`, named in pyproject.toml): copy profiles/, suites/ and load/ and the
project's pytest settings into ``readiness/_bundle/`` of the wheel, so an installed package runs every
suite from any folder. Editable installs skip it: they read the source tree (readiness/core/bundle.py)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools.command.build_py import build_py


def _bundle_module():  # type: ignore[no-untyped-def]
    # Loaded by file path: at build time the package itself need not be importable.
    spec = importlib.util.spec_from_file_location("_readiness_bundle", Path(__file__).parent / "core" / "bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_bundle = _bundle_module()
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


def pytest_settings(pyproject: str) -> str:
    """The `[tool.pytest.ini_options]` table of pyproject.toml, as a file of its own."""
    lines = pyproject.splitlines()
    start = lines.index("[tool.pytest.ini_options]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return "\n".join(lines[start:end]).rstrip() + "\n"


class BuildWithBundle(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = Path.cwd()
        target = Path(self.build_lib) / "readiness" / "_bundle"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in _bundle.BUNDLED:
            shutil.copytree(source / name, target / name, ignore=_IGNORED)
        (target / _bundle.SETTINGS_FILE).write_text(pytest_settings((source / "pyproject.toml").read_text()))
