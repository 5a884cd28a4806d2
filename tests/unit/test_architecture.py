"""The package's layers hold: no import cycle, no import pointing up a layer (tools/import_graph.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import readiness.core.expect
import readiness.engine.plugin
import readiness.targets.kube  # noqa: F401  (bound below through readiness.kube)

TOOL = Path(__file__).resolve().parents[2] / "tools" / "import_graph.py"


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_graph", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_cycle_and_no_upward_import(capsys):
    assert _tool().main([]) == 0, capsys.readouterr().out


def test_the_tool_sees_a_cycle_and_an_upward_import():
    tool = _tool()
    edges = {"readiness.core.a": {"readiness.report.b"}, "readiness.report.b": {"readiness.core.a"}}
    assert tool.cycles(edges) == [["readiness.core.a", "readiness.report.b"]]
    assert tool.upward(edges) == [("readiness.core.a", "readiness.report.b")]


def test_the_old_import_paths_name_the_same_modules():
    import readiness.expect
    import readiness.kube
    import readiness.plugin

    assert readiness.expect is readiness.core.expect
    assert readiness.kube is readiness.targets.kube
    assert readiness.plugin is readiness.engine.plugin
    from readiness.expect import CheckError, Expect  # noqa: F401  (what a user's own check imports)
