"""Outcomes, evidence and results: what a check records and what a report carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    passed = "pass"
    warn = "warn"
    fail = "fail"
    error = "error"
    skip = "skip"
    waived = "waived"


#: The one severity order (worst first): which outcome wins when a requirement has several checks, and
#: the order every report lists outcomes in.
SEVERITY: tuple[Outcome, ...] = (
    Outcome.fail,
    Outcome.error,
    Outcome.warn,
    Outcome.waived,
    Outcome.passed,
    Outcome.skip,
)

#: Outcomes that make a run FAIL; `blocking(strict=True)` adds warn.
BLOCKING = frozenset({Outcome.fail, Outcome.error})

#: A skip whose reason starts with this means the check had nothing to look at: the requirement was not
#: evaluated, even if another of its checks passed.
NOT_CONFIGURED = "target not configured"

#: Exit status of an INCOMPLETE run (pytest owns 0-5; InSpec uses 101 for "no failures, some skipped").
EXIT_INCOMPLETE = 101


def blocking(strict: bool) -> frozenset[Outcome]:
    return BLOCKING | {Outcome.warn} if strict else BLOCKING


def worst(outcomes: list[Outcome]) -> Outcome:
    if not outcomes:
        return Outcome.skip
    return min(outcomes, key=SEVERITY.index)


def rank(outcome: Outcome | str) -> int:
    """Position in SEVERITY (0 is worst), for sorting."""
    return SEVERITY.index(Outcome(outcome))


class Verdict(StrEnum):
    """The run's verdict, what a gate reads."""

    passed = "pass"
    incomplete = "incomplete"
    fail = "fail"


def run_verdict(results: list[tuple[str, Outcome]], *, strict: bool = False, interrupted: bool = False) -> Verdict:
    """FAIL when an in-scope requirement failed or errored (or warned, under --strict); else INCOMPLETE when
    a required one was not evaluated (skip: no check, skipped, target not configured), when nothing at all
    was evaluated, or when the run was interrupted; else PASS.

    `results` holds (level, outcome) of the requirements in scope, waivers already applied.
    """
    bad = blocking(strict)
    if any(outcome in bad for _, outcome in results):
        return Verdict.fail
    if interrupted:
        return Verdict.incomplete
    if any(level == "required" and outcome is Outcome.skip for level, outcome in results):
        return Verdict.incomplete
    if not any(outcome is not Outcome.skip for _, outcome in results):
        return Verdict.incomplete
    return Verdict.passed


def exit_status(verdict: Verdict, allow_incomplete: bool = False) -> int:
    if verdict is Verdict.fail:
        return 1
    if verdict is Verdict.incomplete and not allow_incomplete:
        return EXIT_INCOMPLETE
    return 0


@dataclass
class Observation:
    """One expectation a check stated: what was seen against what was expected."""

    label: str
    observed: Any
    expected: Any
    unit: str | None = None
    met: bool = True
    evidence: dict[str, Any] = field(default_factory=dict)
    #: The sentences a person reads (subject, value, unit); `observed`/`expected` stay typed for machines.
    observed_text: str = ""
    expected_text: str = ""


@dataclass
class CheckResult:
    """The outcome of one check (one pytest test) for one requirement."""

    requirement: str
    nodeid: str
    outcome: Outcome
    effect: str = "read"
    message: str = ""
    observations: list[Observation] = field(default_factory=list)
    duration_s: float = 0.0
    started_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose (asdict deep-copies every evidence value): this runs once per check.
        return {
            "requirement": self.requirement,
            "nodeid": self.nodeid,
            "outcome": self.outcome.value,
            "effect": self.effect,
            "message": self.message,
            "observations": [vars(o) for o in self.observations],
            "duration_s": self.duration_s,
            "started_at": self.started_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        data = dict(data)
        data["outcome"] = Outcome(data["outcome"])
        data["observations"] = [Observation(**o) for o in data.get("observations", [])]
        return cls(**data)
