"""Overhead of the readiness plugin and its reports on 500 trivial checks.

Prints the CPU time of bare pytest and of pytest with the plugin (best of N runs each), their ratio,
and the time the plugin took to write all four report files for 500 results.

    python benchmarks/plugin_overhead.py [--checks 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from readiness.core.profile import load_profile
from readiness.core.redact import Redactor
from readiness.report.model import write_reports


def generate(folder: Path, count: int) -> None:
    ids = sorted(load_profile("aws").requirements)
    lines = ["import pytest", ""]
    for index in range(count):
        requirement = ids[index % len(ids)]
        lines += [
            f'@pytest.mark.requirement("{requirement}")',
            f"def test_check_{index}(expect):",
            f'    expect.at_least("value {index}", {index % 7}, 0, unit="things")',
            "",
        ]
    (folder / "test_generated.py").write_text("\n".join(lines))
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n    requirement: x\n")


def timed(argv: list[str], cwd: Path) -> float:
    """CPU seconds (user + system) the pytest process used: steadier than wall time on a busy machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, cwd=cwd, check=False, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder, args.checks)
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_generated.py"]
        # Bare pytest: the same tests with a stand-in `expect` fixture, no plugin.
        (folder / "conftest.py").write_text(
            "import pytest\n\nclass _E:\n    def at_least(self, *a, **k):\n        pass\n\n"
            "@pytest.fixture\ndef expect():\n    return _E()\n"
        )
        # The plugin is installed as a pytest11 entry point: keep it out of the bare run altogether.
        bare = min(timed([*base, "-p", "no:readiness.plugin"], folder) for _ in range(args.repeat))
        (folder / "conftest.py").unlink()
        plugin_argv = [*base, "-p", "readiness.plugin", "--profile", "aws", "--report-dir", "out"]
        with_plugin = min(timed(plugin_argv, folder) for _ in range(args.repeat))
        report = json.loads((folder / "out" / "latest" / "conformance.json").read_text())
        checks = sum(len(r["checks"]) for r in report["results"])
        redactor = Redactor(["a-secret-to-look-for"])
        writes = []
        for attempt in range(args.repeat):
            report["run"]["id"] = f"{report['run']['id'][:-1]}{attempt}"
            started = time.perf_counter()
            write_reports(report, folder / "rewrite", redactor)
            writes.append(time.perf_counter() - started)
    print(f"checks:                         {checks}")
    print(f"bare pytest, CPU (best of {args.repeat}):        {bare:.3f} s")
    print(f"pytest + readiness, CPU (best of {args.repeat}): {with_plugin:.3f} s")
    print(f"overhead ratio:                 {with_plugin / bare:.3f} (+{(with_plugin / bare - 1) * 100:.1f}%)")
    print(
        f"write all 4 reports ({checks} checks, best of {args.repeat}): {min(writes):.3f} s "
        f"(first, with template compile: {writes[0]:.3f} s)"
    )


if __name__ == "__main__":
    main()
