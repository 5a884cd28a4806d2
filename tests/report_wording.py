"""What a person reads of a result: observed and expected in words and units, never a Python repr; and for
a fail or warn, a remediation that names an object the run observed, with no placeholder left to fill in.

Used on every report the verdict tests produce (tests/verdict/harness.py) and by the unit tests.
"""

from __future__ import annotations

import re
from typing import Any

from readiness.core.humanize import RATIO_UNITS

#: Python reprs (and JSON's) that must not reach a reader.
REPR = re.compile(r"\[\]|\{\}|\{'|\['|\bNone\b|\bTrue\b|\bFalse\b|\bnull\b|<[a-zA-Z_.]+ object at 0x")


#: a placeholder a reader would have to fill in (`<cluster>`, `e.g.`)
PLACEHOLDER = re.compile(r"<[^<>\s][^<>]*>|\be\.g\.")
#: evidence keys whose values are names of objects (a namespace, a StorageClass, a resource ID, ...)
NAME_KEYS = frozenset(
    {"name", "namespace", "chosen", "resource", "node_type", "instance_class", "sku", "work_pool", "issuer",
     "root_namespace", "found_at", "username", "from", "to", "via", "value", "server", "redis", "postgres"}
)  # fmt: skip
_KUBE_REF = re.compile(r"\b[A-Z][A-Za-z]+ ([\w.-]+)/([\w.-]+)")
#: names: a host, a resource path, a hyphenated or dotted object name (not a bare word, number or time)
_NAMEY = re.compile(r"[A-Za-z0-9][\w.:/@-]*[A-Za-z0-9]")
_NOT_A_NAME = re.compile(r"^\d{4}-\d\d-\d\d|^\d{8}T\d{6}Z|^[\d.:/-]+$|^v?\d+(\.\d+)+$|^TLSv")


def observed_names(evidence: Any) -> set[str]:
    """The objects a result's evidence names: Kubernetes objects (`Deployment ns/name`), hosts, node and group
    names, resource IDs, and the values of name keys (namespace, resource, issuer, targets values)."""
    names: set[str] = set()

    def add(text: str, strict: bool) -> None:
        for match in _KUBE_REF.finditer(text):
            names.update({f"{match.group(1)}/{match.group(2)}", match.group(2)})
        for url in re.findall(r"[a-z]+://([^/\s:@]+)", text):
            names.add(url)
        for token in _NAMEY.findall(text):
            token = token.rstrip(".:")
            if len(token) < 3 or _NOT_A_NAME.search(token):
                continue
            if not strict or re.search(r"[.\-/:]", token) and re.search(r"[A-Za-z]", token):
                names.add(token)

    def walk(data: Any, key: str | None) -> None:
        if isinstance(data, dict):
            for k, v in data.items():
                add(str(k), strict=True)
                walk(v, str(k))
        elif isinstance(data, (list, tuple)):
            for v in data:
                walk(v, key)
        elif isinstance(data, str):
            add(data, strict=key not in NAME_KEYS or " " in data.strip())

    walk(evidence, None)
    return names


def remediation_problems(result: dict[str, Any]) -> list[str]:
    """Why a fail or warn's remediation does not name what the run saw, or still has a placeholder."""
    if result.get("outcome") not in ("fail", "warn"):
        return []
    rid, text = result["id"], result.get("remediation") or ""
    out = []
    if PLACEHOLDER.search(text):
        out.append(f"{rid} remediation: a placeholder in {text!r}")
    evidence = [result.get("evidence") or {}] + [
        o.get("evidence") or {} for check in result.get("checks") or [] for o in check.get("observations") or []
    ]
    names = set().union(*(observed_names(e) for e in evidence))
    if names and not any(name in text for name in names):
        shown = ", ".join(sorted(names)[:12])
        out.append(f"{rid} remediation names none of the objects the run observed ({shown}): {text!r}")
    if not names and "targets" not in text:
        out.append(f"{rid} remediation: the run observed no object and the text names no targets key: {text!r}")
    return out


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
    return [p for result in report["results"] for p in (*problems(result), *remediation_problems(result))]
