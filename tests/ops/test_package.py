"""The wheel carries what a run needs: profiles/, suites/ and load/ (as readiness/_bundle/) and the project's
pytest settings; unpacked away from the checkout, the package finds its own profiles and `readiness run`
writes the report in the folder it is started from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from readiness.core import bundle
from tests.suite_run import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)], check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    [built] = out.glob("prefect_readiness-*.whl")
    return built


def _tracked(folder: str) -> set[str]:
    listing = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True)
    return {line for line in listing.stdout.splitlines() if (ROOT / line).is_file()}


def test_the_wheel_carries_every_profile_suite_and_load_file_and_the_pytest_settings(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in bundle.BUNDLED:
        expected = {f"readiness/_bundle/{path}" for path in _tracked(folder)}
        assert expected and expected <= names, sorted(expected - names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    settings = zipfile.ZipFile(wheel).read("readiness/_bundle/pyproject.toml").decode()
    assert settings.startswith("[tool.pytest.ini_options]") and "--import-mode=importlib" in settings


def test_unpacked_away_from_the_checkout_it_uses_its_own_bundle(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty = tmp_path / "empty"
    empty.mkdir()
    # the unpacked wheel first on the path: it shadows the checkout's editable install
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
    env["PYTHONPATH"] = str(site)
    probe = "from readiness.core import bundle, profile; print(bundle.root()); print(profile.PROFILE_DIR)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=empty, env=env, capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    assert where == [str(site / "readiness" / "_bundle"), str(site / "readiness" / "_bundle" / "profiles")]

    run = subprocess.run([sys.executable, "-m", "readiness", "run", "--profile", "aws", "--suite", "prefect"],
                         cwd=empty, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    report = json.loads((empty / "reports" / "latest" / "conformance.json").read_text())
    assert report["run"]["profile"] == "aws", run.stderr
    assert all(f.startswith(str(site)) for f in report["run"]["profile_files"])
    assert str(ROOT) not in run.stderr
