"""What a person reads of a result: observed and expected in words and units, never a Python repr.

Used on every report the verdict tests produce (tests/verdict/harness.py) and by the unit tests.
"""

from __future__ import annotations

import re
from typing import Any

from readiness.core.humanize import RATIO_UNITS

#: Python reprs (and JSON's) that must not reach a reader.
REPR = re.compile(r"\[\]|\{\}|\{'|\['|\bNone\b|\bTrue\b|\bFalse\b|\bnull\b|<[a-zA-Z_.]+ object at 0x")


def unit_words(unit: str) -> tuple[str, ...]:
    return ("%",) if unit in RATIO_UNITS else (unit,)


def problems(result: dict[str, Any]) -> list[str]:
    """Why a result's observed or expected does not read as words and units (empty when it does)."""
    out = []
    rid = result["id"]
    for side in ("observed", "expected"):
        text = result.get(side)
        value = result.get(f"{side}_value")
        if not isinstance(text, str) or not text.strip():
            out.append(f"{rid} {side}: no sentence ({text!r})")
            continue
        if REPR.search(text):
            out.append(f"{rid} {side}: Python repr in {text!r}")
        unit = result.get("unit")
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if unit and is_number and not any(word in text for word in unit_words(unit)):
            out.append(f"{rid} {side}: a number without its unit {unit!r} in {text!r}")
        if not unit and is_number and isinstance(value, float) and 0 < value < 1 and "%" not in text:
            out.append(f"{rid} {side}: a unitless fraction in {text!r}")
    return out


def report_problems(report: dict[str, Any]) -> list[str]:
    return [p for result in report["results"] for p in problems(result)]
