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

from readiness.core import humanize
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
    return humanize.with_unit(value, unit)


class Expect:
    """Records observations for the current check. Obtain it through the `expect` fixture.

    Every call records the typed values (for machines: diff, drift, Prometheus) and a sentence for each
    side (for people): by default `label: value unit` and `label: at least value unit`; a check that has
    better words passes `observed_text=` and/or `expected_text=` (one line each, no repr).
    """

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
        expected_words: str,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        evidence = dict(evidence or {})
        evidence.setdefault("at", now_iso())
        observed_text = observed_text or humanize.sentence(label, observed, unit)
        expected_text = expected_text or (f"{label}: {expected_words}" if label else expected_words)
        self.observations.append(
            Observation(label, observed, expected, unit, met, evidence, observed_text, expected_text)
        )
        if not met:
            raise ExpectationNotMet(f"{label}: observed {_show(observed, unit)}, expected {expected_words}")

    def _compare(
        self,
        label: str,
        observed: Any,
        expected: Any,
        op: Callable[[Any, Any], bool],
        words: str,
        unit: str | None,
        evidence: dict[str, Any] | None,
        observed_text: str | None,
        expected_text: str | None,
    ) -> None:
        met = observed is not None and bool(op(observed, expected))
        shown = f"{words} {_show(expected, unit)}" if words else _show(expected, unit)
        self._record(label, observed, expected, met, unit, evidence, shown, observed_text, expected_text)

    def equal(
        self,
        label: str,
        observed: Any,
        expected: Any,
        *,
        unit: str | None = None,
        evidence=None,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        self._compare(label, observed, expected, operator.eq, "", unit, evidence, observed_text, expected_text)

    def at_least(
        self,
        label: str,
        observed: Any,
        minimum: Any,
        *,
        unit: str | None = None,
        evidence=None,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        self._compare(label, observed, minimum, operator.ge, "at least", unit, evidence, observed_text, expected_text)

    def at_most(
        self,
        label: str,
        observed: Any,
        maximum: Any,
        *,
        unit: str | None = None,
        evidence=None,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        self._compare(label, observed, maximum, operator.le, "at most", unit, evidence, observed_text, expected_text)

    def one_of(
        self,
        label: str,
        observed: Any,
        allowed: Collection[Any],
        *,
        evidence=None,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        ordered = sorted(allowed, key=str)
        words = (
            "one of " + humanize.listing(ordered)
            if len(ordered) > 1
            else humanize.show(ordered[0] if ordered else None)
        )
        self._record(label, observed, ordered, observed in allowed, None, evidence, words, observed_text, expected_text)

    def true(
        self,
        label: str,
        condition: bool,
        *,
        observed: Any = None,
        expected: Any = True,
        evidence=None,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        """For expectations that are not a comparison: `condition` says whether it is met."""
        shown = observed if observed is not None else condition
        self._record(
            label, shown, expected, bool(condition), None, evidence, _show(expected, None), observed_text, expected_text
        )

    def version_at_least(
        self,
        label: str,
        observed: str | None,
        minimum: str,
        *,
        evidence=None,
        observed_text: str | None = None,
        expected_text: str | None = None,
    ) -> None:
        met = observed is not None and parse_version(observed) >= parse_version(minimum)
        observed_text = observed_text or humanize.sentence(label, observed if observed is not None else "not reported")
        self._record(label, observed, minimum, met, None, evidence, f"at least {minimum}", observed_text, expected_text)


def parse_version(text: str) -> tuple[int, ...]:
    """'3.9.1' -> (3, 9, 1); tolerant of a leading 'v' and suffixes like '-rc1' or '+build'."""
    import re

    core = re.match(r"v?(\d+(?:\.\d+)*)", text.strip())
    if not core:
        raise CheckError(f"cannot parse version {text!r}")
    return tuple(int(p) for p in core.group(1).split("."))
