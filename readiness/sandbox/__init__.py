"""The sandbox: a real reference install of Prefect's dependencies on loopback."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from readiness.sandbox.base import Component, ComponentStatus, SandboxContext, SandboxError
from readiness.sandbox.registry import component_classes
from readiness.targets import TARGETS_ENV

__all__ = ["Sandbox", "SandboxContext", "SandboxError", "Component", "ComponentStatus"]


class Sandbox:
    """Brings the registered components up and down and applies scenarios in place."""

    def __init__(self, ctx: SandboxContext | None = None, only: Iterable[str] | None = None) -> None:
        self.ctx = ctx or SandboxContext()
        wanted = set(only) if only else None
        classes = component_classes(wanted)
        if wanted:
            unknown = wanted - {cls.name for cls in classes}
            if unknown:
                names = ", ".join(sorted(c.name for c in component_classes()))
                raise SandboxError(f"unknown component(s) {', '.join(sorted(unknown))}; known: {names}")
            wanted, classes = with_dependencies(wanted, classes)
        self.components: list[Component] = [cls(self.ctx) for cls in classes if wanted is None or cls.name in wanted]

    # -- scenarios -------------------------------------------------------------------------------
    @staticmethod
    def all_scenarios() -> dict[str, tuple[str, str]]:
        """scenario -> (component name, description)."""
        out: dict[str, tuple[str, str]] = {}
        for cls in component_classes():
            for name, description in cls.scenarios.items():
                out[name] = (cls.name, description)
        return out

    def _owner(self, scenario: str) -> Component:
        for component in self.components:
            if scenario in component.scenarios:
                return component
        known = self.all_scenarios()
        if scenario not in known:
            raise SandboxError(f"unknown scenario {scenario!r}; `readiness sandbox scenarios` lists them")
        component_name = known[scenario][0]
        for component in self.components:
            if component.name == component_name:
                return component
        raise SandboxError(f"scenario {scenario!r} belongs to {component_name}, which is not part of this sandbox")

    def apply(self, scenario: str) -> None:
        """Record `scenario` as active, then let its component break the one thing it names.

        Recorded first, so a component that renders its configuration from ctx.active_scenarios()
        sees the state it is moving to; left recorded if apply fails, so `revert` can still undo it.
        """
        owner = self._owner(scenario)
        needs = owner.scenario_layout(scenario)
        if needs is not None and needs != self.layout:
            raise SandboxError(
                f"scenario {scenario!r} needs the {needs} layout, this sandbox has the {self.layout} layout: "
                f"`readiness sandbox up --layout {needs}` switches it in place"
            )
        status = owner.status()
        if not status.healthy:
            raise SandboxError(
                f"cannot apply {scenario!r}: {owner.name} is not up ({status.detail}); run `readiness sandbox up` first"
            )
        active = self.ctx.active_scenarios()
        if scenario not in active:
            self.ctx.set("scenarios", [*active, scenario])
        owner.apply(scenario)
        self.write_env_file()  # a component's targets may follow the scenario (e.g. sslmode without TLS)

    def revert(self, scenario: str) -> None:
        owner = self._owner(scenario)
        self.ctx.set("scenarios", [s for s in self.ctx.active_scenarios() if s != scenario])
        owner.revert(scenario)
        self.write_env_file()

    # -- layouts ---------------------------------------------------------------------------------
    @property
    def layout(self) -> str:
        """How the Kubernetes objects lay Prefect out: `default` or `helm` (`readiness sandbox up --layout`)."""
        return str(self.ctx.get("layout") or "default")

    def switch_layout(self, name: str) -> None:
        """Lay the running sandbox's Prefect objects out as `name`, in place (the servers stay as they are)."""
        active = self.ctx.active_scenarios()
        if active:
            raise SandboxError(f"cannot switch the layout while {', '.join(active)} is applied; revert it first")
        kubernetes = next((c for c in self.components if c.name == "kubernetes"), None)
        if kubernetes is None:
            raise SandboxError("the layout is the Kubernetes objects', and this sandbox runs no Kubernetes")
        kubernetes.switch_layout(name)  # type: ignore[attr-defined]
        self.write_env_file()

    @contextmanager
    def layout_switched(self, name: str) -> Iterator[None]:
        """The `name` layout for the duration of a `with` block, then the one before, also on error."""
        before = self.layout
        self.switch_layout(name)
        try:
            yield
        finally:
            self.switch_layout(before)

    @contextmanager
    def scenario(self, name: str) -> Iterator[None]:
        """Apply `name` for the duration of a `with` block, then revert it, also on error."""
        self.apply(name)
        try:
            yield
        finally:
            self.revert(name)

    # -- lifecycle -------------------------------------------------------------------------------
    def up(self, scenarios: Iterable[str] = (), progress: bool = True) -> dict[str, float]:
        """Start every component (idempotent), then apply `scenarios`. Returns seconds per component."""
        for scenario in scenarios:
            self._owner(scenario)  # validate before starting anything
        timings: dict[str, float] = {}
        for component in self.components:
            started = time.monotonic()
            if progress:
                print(f"sandbox: preparing {component.name} ...", file=sys.stderr, flush=True)
            component.prepare()
            if progress:
                print(f"sandbox: starting {component.name} ...", file=sys.stderr, flush=True)
            component.up()
            self.ctx.set("started", sorted({*self.ctx.get("started", []), component.name}))  # type: ignore[misc]
            timings[component.name] = time.monotonic() - started
            if progress:
                print(f"sandbox: {component.name} up in {timings[component.name]:.1f} s", file=sys.stderr)
        for component in self.components:
            started = time.monotonic()
            component.finish()
            waited = time.monotonic() - started
            timings[component.name] += waited
            if progress and waited >= 0.05:
                print(f"sandbox: {component.name} ready after {waited:.1f} s more", file=sys.stderr)
        for scenario in scenarios:
            self.apply(scenario)
        self.write_env_file()
        return timings

    def down(self) -> None:
        errors = []
        for component in reversed(self.components):
            try:
                component.down()
            except Exception as exc:  # keep stopping the others
                errors.append(f"{component.name}: {exc}")
        # Anything still recorded as running was started by a component that forgot it.
        for name in self.ctx.managed():
            self.ctx.stop(name)
        self.ctx.set("scenarios", [])
        stopped = {c.name for c in self.components}
        self.ctx.set("started", [n for n in self.ctx.get("started", []) if n not in stopped])  # type: ignore[union-attr]
        if errors:
            raise SandboxError("; ".join(errors))

    def status(self) -> list[ComponentStatus]:
        return [component.status() for component in self.components]

    def env(self) -> dict[str, str]:
        """Everything the sandbox's own tests use: each component's variables and READINESS_TARGETS."""
        out: dict[str, str] = {"READINESS_SANDBOX_DIR": str(self.ctx.root)}
        for component in self.components:
            out.update(component.env())
        out.update(self.user_env())
        return out

    def user_env(self) -> dict[str, str]:
        """What a user (and `sandbox check`) exports: the targets file, as for a real install."""
        return {TARGETS_ENV: str(self.targets_path)}

    @property
    def targets_path(self) -> Path:
        return self.ctx.root / "targets.yaml"

    def targets(self) -> dict[str, object]:
        """The sandbox's targets file content: every component's part, merged."""
        merged: dict[str, object] = {"schema_version": 1}
        started = set(self.ctx.get("started", []))  # type: ignore[arg-type]
        for component in self.components:
            if component.name not in started:
                continue
            for section, body in component.targets().items():
                current = merged.get(section)
                if isinstance(current, dict) and isinstance(body, dict):
                    merged[section] = {**current, **body}
                else:
                    merged[section] = body
        return merged

    def write_env_file(self) -> None:
        import yaml

        header = "# Written by `readiness sandbox up`: where the sandbox's parts live (secrets by file reference).\n"
        self.targets_path.write_text(header + yaml.safe_dump(self.targets(), sort_keys=False))
        lines = [f"export {k}={_shell_quote(v)}" for k, v in sorted(self.user_env().items())]
        path = self.ctx.root / "env"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)


def with_dependencies(wanted: set[str], classes: list[type[Component]]) -> tuple[set[str], list[type[Component]]]:
    """`wanted` plus every component they declare in `after`, transitively (`--only prefect` also starts
    PostgreSQL and Redis, and the PKI they use); the registry's order is the start order."""
    while True:
        needed = wanted | {dep for cls in classes if cls.name in wanted for dep in cls.after}
        if needed == wanted:
            return wanted, classes
        wanted = needed
        classes = component_classes(wanted)


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)
