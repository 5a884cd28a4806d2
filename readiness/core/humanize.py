"""Values in a reader's words: numbers with their unit, counts, lists, yes/no, never a Python repr.

What a check observed and expected is kept typed for machines (conformance.json's `observed_value`,
`expected_value`, what `readiness diff`, drift and Prometheus compare); these helpers give the sentence a
person reads next to it (terminal, HTML, Markdown, JUnit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

#: Units a value is shown in as a percentage (a ratio 0..1 reads as "12.5 %").
RATIO_UNITS = frozenset({"ratio", "share", "fraction"})

#: What an empty list or a missing value reads as.
NONE = "none"

#: Beyond this many items, a list in a sentence ends with "and N more".
LIST_LIMIT = 8


def number(value: float | int, *, digits: int = 3) -> str:
    """12 -> '12', 13.0 -> '13', 0.30000001 -> '0.3', 3599.734 -> '3,599.7', 1e-5 -> '0.00001'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value) or math.isinf(value):
        return "not a number" if math.isnan(value) else ("unlimited" if value > 0 else "minus unlimited")
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        text = f"{value:,.1f}"
    elif magnitude >= 1:
        text = f"{value:,.{max(digits - 1, 1)}f}"
    else:
        # Keep `digits` significant figures for small values (0.000123 -> 0.000123).
        places = max(digits, -int(math.floor(math.log10(magnitude))) + digits - 1) if magnitude else 1
        text = f"{value:.{min(places, 12)}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text


def percent(ratio: float) -> str:
    """0.0001 -> '0.01 %', 0.8 -> '80 %'."""
    return f"{number(ratio * 100)} %"


def with_unit(value: Any, unit: str | None) -> str:
    """A value and its unit: (8, 'vCPU') -> '8 vCPU'; (0.8, 'ratio') -> '80 %'; (None, 's') -> 'none'."""
    if unit in RATIO_UNITS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return percent(value)
    text = show(value)
    if not unit or value is None or isinstance(value, bool) or text == NONE:
        return text
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"{text} ({unit})"
    if unit == "s" and isinstance(value, (int, float)) and abs(value) >= 120:
        return f"{text} s ({duration(value)})"
    return f"{text} {unit}"


def duration(seconds: float) -> str:
    """3599.7 -> '60 min'; 90000 -> '25 h'; 5 -> '5 s'."""
    magnitude = abs(seconds)
    if magnitude >= 2 * 86400:
        return f"{number(round(seconds / 86400, 1))} days"
    if magnitude >= 2 * 3600:
        return f"{number(round(seconds / 3600, 1))} h"
    if magnitude >= 120:
        return f"{number(round(seconds / 60))} min"
    return f"{number(seconds)} s"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """(1, 'node') -> '1 node'; (3, 'node') -> '3 nodes'; (2, 'replica', 'replicas')."""
    return f"{number(count)} {noun if count == 1 else (nouns or noun + 's')}"


def listing(items: Iterable[Any], *, limit: int = LIST_LIMIT, empty: str = NONE) -> str:
    """['a', 'b', 'c'] -> 'a, b, c'; more than `limit` -> 'a, b, ... and 4 more'; [] -> 'none'."""
    shown = [show(item) for item in items]
    if not shown:
        return empty
    if len(shown) > limit:
        return ", ".join(shown[:limit]) + f" and {len(shown) - limit} more"
    return "; ".join(shown) if any("," in s for s in shown) else ", ".join(shown)


def pairs(mapping: Mapping[Any, Any]) -> str:
    """{'a': 1, 'b': None} -> 'a: 1; b: none'."""
    if not mapping:
        return NONE
    return "; ".join(f"{key}: {show(value)}" for key, value in mapping.items())


def show(value: Any) -> str:
    """Any observed or expected value as a person reads it: no repr, no bare None, [] or True."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return value.strip() or "(empty)"
    if isinstance(value, Mapping):
        return pairs(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return listing(items)
    return str(value)


def items_of(value: Any) -> list[str] | None:
    """A list value's items (a mapping's `key: value` pairs) as text, for a <ul> or a Markdown list; None when
    the value is not a list or mapping of two or more."""
    if isinstance(value, (list, tuple, set, frozenset)) and len(value) > 1:
        return [show(item) for item in value]
    if isinstance(value, Mapping) and len(value) > 1:
        return [f"{key}: {show(item)}" for key, item in value.items()]
    return None


def sentence(subject: str, value: Any, unit: str | None = None) -> str:
    """'memory of prefect-redis: 13 GiB'."""
    return f"{subject}: {with_unit(value, unit)}" if subject else with_unit(value, unit)
