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


#: Which outcome wins when a requirement has several checks (first is worst).
SEVERITY: tuple[Outcome, ...] = (
    Outcome.fail,
    Outcome.error,
    Outcome.warn,
    Outcome.waived,
    Outcome.passed,
    Outcome.skip,
)

#: Outcomes that make the run exit non-zero (warn only under --strict).
BLOCKING = frozenset({Outcome.fail, Outcome.error})


def worst(outcomes: list[Outcome]) -> Outcome:
    if not outcomes:
        return Outcome.skip
    return min(outcomes, key=SEVERITY.index)


@dataclass
class Observation:
    """One expectation a check stated: what was seen against what was expected."""

    label: str
    observed: Any
    expected: Any
    unit: str | None = None
    met: bool = True
    evidence: dict[str, Any] = field(default_factory=dict)


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
