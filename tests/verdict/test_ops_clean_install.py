"""The installed package, as a user gets it: the wheel built from this checkout, installed (not editable)
into a clean virtual environment, run from an empty folder against the sandbox with a profile file.

A read-only run writes the four report files and conformance.prom there; a second run against the first
(`--baseline previous`) shows no drift and `readiness diff` exits 0; after a sandbox scenario, a third run
shows exactly that drift and `readiness diff` exits non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.suite_run import ROOT

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
FILES = {"conformance.json", "conformance.html", "conformance.md", "junit.xml", "conformance.prom"}
#: the fault the third run must report, and the one requirement it turns (a read check of a shipped suite)
SCENARIO, REQUIREMENT = "redis-noauth", "REDIS-AUTH"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A clean venv holding the wheel of this checkout and its dependencies; its bin folder."""
    folder = tmp_path_factory.mktemp("clean-install")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder / "dist"), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    [wheel] = (folder / "dist").glob("prefect_readiness-*.whl")
    venv.EnvBuilder(with_pip=True).create(folder / "venv")
    bin_dir = folder / "venv" / "bin"
    subprocess.run([bin_dir / "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], check=True,
                   capture_output=True, timeout=1500)  # fmt: skip
    return bin_dir


def _env(suites, bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "VIRTUAL_ENV"))}
    env.update(suites.sandbox.env())
    env["PREFECT_HOME"] = str(suites.sandbox.ctx.root / "client-home")
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    return env


def _run(bin_dir: Path, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_dir / "readiness", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip


def _latest(cwd: Path) -> tuple[Path, dict]:
    run_dir = (cwd / "reports" / "latest").resolve()
    return run_dir, json.loads((run_dir / "conformance.json").read_text())


def test_installed_audit_from_an_empty_folder_reports_drift_exactly_when_something_changed(suites, installed, tmp_path):
    env = _env(suites, installed)
    profile = tmp_path / "config" / "my-install.yaml"  # a profile file of the user's own, beside no other
    profile.parent.mkdir()
    profile.write_text("name: my-install\ndescription: the sandbox, as an operator would name it\nextends: sandbox\n")
    work = tmp_path / "empty"
    work.mkdir()
    audit = ("run", f"--profile={profile}", "--read-only", "--baseline", "previous")

    first = _run(installed, work, env, *audit)
    first_dir, first_report = _latest(work)
    assert {p.name for p in first_dir.iterdir()} >= FILES, first.stderr  # (and screenshots a check keeps)
    # the run used the package's own suites and profiles, nothing of the checkout
    assert all(str(installed.parent) in f or f == str(profile) for f in first_report["run"]["profile_files"])
    assert str(ROOT) not in first.stdout + first.stderr
    assert first_report["results"], first.stdout[-3000:]

    second = _run(installed, work, env, *audit)
    second_dir, second_report = _latest(work)
    drift = second_report["drift"]
    assert drift["baseline_run"] == first_dir.name, second.stderr
    assert (drift["new_failures"], drift["resolved"]) == ([], []), second.stdout[-3000:]
    same = _run(installed, work, env, "diff", str(first_dir / "conformance.json"), str(second_dir / "conformance.json"))
    assert same.returncode == 0, same.stdout + same.stderr

    with suites.scenario(SCENARIO):
        third = _run(installed, work, env, *audit)
    third_dir, third_report = _latest(work)
    drift = third_report["drift"]
    assert drift["baseline_run"] == second_dir.name
    assert [item["id"] for item in drift["new_failures"]] == [REQUIREMENT], third.stdout[-3000:]
    changed = _run(
        installed, work, env, "diff", str(second_dir / "conformance.json"), str(third_dir / "conformance.json")
    )
    assert changed.returncode != 0 and REQUIREMENT in changed.stdout, changed.stdout + changed.stderr
