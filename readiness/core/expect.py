"""The one expectation helper every check uses, and the exceptions that map to outcomes.

A check states what it expects through :class:`Expect`; each call records the observed value, the
expected value, a unit and the evidence (what was asked, where, when). A missed expectation raises
:class:`ExpectationNotMet`, which the plugin maps to `fail` or `warn` by the requirement's level.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from readiness.core.model import Observation


class ExpectationNotMet(AssertionError):
    """An expectation was not met; the message reads `label: observed X, expected Y`."""


class CheckError(Exception):
    """The check could not be evaluated (unreachable, denied, timed out); the message is the cause."""


class BudgetExhausted(CheckError):
    """The run's --budget ran out before this check."""


class CheckTimeout(CheckError):
    """The check ran past its timeout."""


class Interrupted(CheckError):
    """The run was stopped (SIGTERM) while this check ran: it ends as an error, its cleanup still runs."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _show(value: Any, unit: str | None) -> str:
    text = value if isinstance(value, str) else repr(value)
    return f"{text} {unit}" if unit else str(text)


class Expect:
    """Records observations for the current check. Obtain it through the `expect` fixture."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []

    def _record(
        self,
        label: str,
        observed: Any,
        expected: Any,
        met: bool,
        unit: str | None,
        evidence: dict[str, Any] | None,
        expected_text: str,
    ) -> None:
        evidence = dict(evidence or {})
        evidence.setdefault("at", now_iso())
        self.observations.append(Observation(label, observed, expected, unit, met, evidence))
        if not met:
            raise ExpectationNotMet(f"{label}: observed {_show(observed, unit)}, expected {expected_text}")

    def _compare(
        self,
        label: str,
        observed: Any,
        expected: Any,
        op: Callable[[Any, Any], bool],
        words: str,
        unit: str | None,
        evidence: dict[str, Any] | None,
    ) -> None:
        met = observed is not None and bool(op(observed, expected))
        self._record(label, observed, expected, met, unit, evidence, f"{words} {_show(expected, unit)}")

    def equal(self, label: str, observed: Any, expected: Any, *, unit: str | None = None, evidence=None) -> None:
        self._compare(label, observed, expected, operator.eq, "", unit, evidence)

    def at_least(self, label: str, observed: Any, minimum: Any, *, unit: str | None = None, evidence=None) -> None:
        self._compare(label, observed, minimum, operator.ge, "at least", unit, evidence)

    def at_most(self, label: str, observed: Any, maximum: Any, *, unit: str | None = None, evidence=None) -> None:
        self._compare(label, observed, maximum, operator.le, "at most", unit, evidence)

    def one_of(self, label: str, observed: Any, allowed: Collection[Any], *, evidence=None) -> None:
        self._record(
            label,
            observed,
            sorted(allowed, key=str),
            observed in allowed,
            None,
            evidence,
            "one of " + ", ".join(map(str, sorted(allowed, key=str))),
        )

    def true(self, label: str, condition: bool, *, observed: Any = None, expected: Any = True, evidence=None) -> None:
        """For expectations that are not a comparison: `condition` says whether it is met."""
        shown = observed if observed is not None else condition
        self._record(label, shown, expected, bool(condition), None, evidence, _show(expected, None))

    def version_at_least(self, label: str, observed: str | None, minimum: str, *, evidence=None) -> None:
        met = observed is not None and parse_version(observed) >= parse_version(minimum)
        self._record(label, observed, minimum, met, None, evidence, f"at least {minimum}")


def parse_version(text: str) -> tuple[int, ...]:
    """'3.9.1' -> (3, 9, 1); tolerant of a leading 'v' and suffixes like '-rc1' or '+build'."""
    import re

    core = re.match(r"v?(\d+(?:\.\d+)*)", text.strip())
    if not core:
        raise CheckError(f"cannot parse version {text!r}")
    return tuple(int(p) for p in core.group(1).split("."))
