"""Which requirements a run set out to evaluate: the gate's scope.

A requirement is in scope unless the user left its checks out on purpose: a suite path that does not
reach them, `-k`/`-m`/`--deselect`, or `--read-only` for a requirement whose checks all write or load.
Out-of-scope requirements are reported apart ("not in this run") and do not count towards the verdict.
A required requirement in scope that nothing evaluated (no check exists, its check skipped, its target
not configured) makes the run INCOMPLETE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

_MARKER = re.compile(r"""requirement\(\s*["']([A-Z0-9]+(?:-[A-Z0-9]+)+)["']""")


@cache
def checks_on_disk(suites_root: Path) -> frozenset[str]:
    """Requirement IDs that some check under `suites_root` names (a text scan: no import, no collection)."""
    if not suites_root.is_dir():
        return frozenset()
    found: set[str] = set()
    for path in suites_root.rglob("*.py"):
        try:
            found.update(_MARKER.findall(path.read_text(errors="replace")))
        except OSError:
            continue
    return frozenset(found)


@dataclass
class Scope:
    """What the user chose to run. `selected` and `deselected` come from collection (on xdist workers,
    sent to the controller)."""

    #: requirement ID -> side-effect classes of its selected checks
    selected: dict[str, set[str]] = field(default_factory=dict)
    #: requirement IDs with a check that -k, -m or --deselect left out
    deselected: set[str] = field(default_factory=set)
    #: -k or -m was given (requirements with no selected check are then left out)
    narrowed: bool = False
    #: the run's path arguments, resolved
    paths: list[Path] = field(default_factory=list)
    suites_root: Path = Path("suites")
    read_only: bool = False

    def add_checks(self, checks: Iterable[tuple[str, str]]) -> None:
        for requirement_id, effect in checks:
            self.selected.setdefault(requirement_id, set()).add(effect)

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": {k: sorted(v) for k, v in self.selected.items()},
            "deselected": sorted(self.deselected),
        }

    def merge(self, data: dict[str, Any]) -> None:
        for requirement_id, effects in data.get("selected", {}).items():
            self.selected.setdefault(requirement_id, set()).update(effects)
        self.deselected.update(data.get("deselected", []))

    def _covers(self, folder: Path) -> bool:
        return any(path == folder or path in folder.parents for path in self.paths)

    def not_in_run(self, requirement_id: str, component: str) -> str | None:
        """None when the requirement is in scope, else why the run left it out (one line)."""
        effects = self.selected.get(requirement_id)
        if effects:
            if self.read_only and "read" not in effects:
                return "read-only run: its checks write or load"
            return None
        if requirement_id in self.deselected:
            return "its checks were deselected (-k, -m or --deselect)"
        if self.narrowed:
            return "no check of it matched -k/-m"
        if requirement_id in checks_on_disk(self.suites_root):
            return "its checks are in a suite this run did not include"
        home = self.suites_root / component
        if self._covers(home):
            return None  # no check exists yet, but its suite was asked for: in scope, not evaluated
        return f"its suite ({home.name}/) was not part of this run"


def paths_of(args: Iterable[str], invocation_dir: Path) -> list[Path]:
    """pytest's positional arguments as resolved paths (node IDs lose their `::...` part)."""
    out = []
    for arg in args:
        if arg.startswith("-"):
            continue
        out.append((invocation_dir / arg.split("::", 1)[0]).resolve())
    return out
