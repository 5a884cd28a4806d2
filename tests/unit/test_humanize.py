"""The words a person reads for a value: numbers with units, ratios as percentages, lists, yes/no; no repr."""

from __future__ import annotations

import pytest

from readiness.core import humanize
from readiness.core.expect import Expect, ExpectationNotMet
from tests.report_wording import problems


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12, "12"),
        (13.0, "13"),
        (0.30000001, "0.3"),
        (3599.734, "3,599.7"),
        (0.000123, "0.000123"),
        (1234567, "1,234,567"),
        (2.5, "2.5"),
        (float("inf"), "unlimited"),
    ],
)
def test_numbers(value, text):
    assert humanize.number(value) == text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (8, "vCPU", "8 vCPU"),
        (0.0001, "ratio", "0.01 %"),
        (0.8, "ratio", "80 %"),
        (None, "s", "none"),
        ([], None, "none"),
        ({}, None, "none"),
        (True, None, "yes"),
        (False, None, "no"),
        (["a", "b"], None, "a, b"),
        (["x, y", "z"], None, "x, y; z"),
        ({"a": 1, "b": None}, None, "a: 1; b: none"),
        ("", None, "(empty)"),
        (list(range(10)), None, "0, 1, 2, 3, 4, 5, 6, 7 and 2 more"),
        (3599.7, "s", "3,599.7 s (60 min)"),
        (0.3, "s", "0.3 s"),
    ],
)
def test_values_with_units(value, unit, text):
    assert humanize.with_unit(value, unit) == text


def test_counts_and_sentences():
    assert humanize.plural(1, "node") == "1 node"
    assert humanize.plural(3, "node") == "3 nodes"
    assert humanize.plural(2, "replica", "replicas") == "2 replicas"
    assert humanize.sentence("memory of prefect-redis", 13.07, "GiB") == "memory of prefect-redis: 13.07 GiB"
    assert humanize.items_of(["a", "b"]) == ["a", "b"]
    assert humanize.items_of(["a"]) is None
    assert humanize.items_of({"api": ["10.0.0.1"], "app": None}) == ["api: 10.0.0.1", "app: none"]


def _result(observation, unit=None):
    return {
        "id": "X-Y",
        "unit": unit,
        "observed": observation.observed_text,
        "expected": observation.expected_text,
        "observed_value": observation.observed,
        "expected_value": observation.expected,
    }


def test_expect_records_a_sentence_for_each_side_for_a_pass_and_a_fail():
    expect = Expect()
    expect.at_least("nodes Prefect's pods can use", 3, 3, unit="nodes")
    expect.equal("Pending pods", [], [])
    expect.true("istiod Deployment Available", True)
    expect.one_of("TLS protocol", "TLSv1.3", ["TLSv1.2", "TLSv1.3"])
    expect.at_most("used memory of maxmemory", 0.0001, 0.8, unit="ratio")
    with pytest.raises(ExpectationNotMet) as failed:
        expect.at_least("memory", None, 16, unit="GiB")
    assert "None" not in str(failed.value)
    texts = [(o.observed_text, o.expected_text) for o in expect.observations]
    assert texts == [
        ("nodes Prefect's pods can use: 3 nodes", "nodes Prefect's pods can use: at least 3 nodes"),
        ("Pending pods: none", "Pending pods: none"),
        ("istiod Deployment Available: yes", "istiod Deployment Available: yes"),
        ("TLS protocol: TLSv1.3", "TLS protocol: one of TLSv1.2, TLSv1.3"),
        ("used memory of maxmemory: 0.01 %", "used memory of maxmemory: at most 80 %"),
        ("memory: none", "memory: at least 16 GiB"),
    ]
    for observation in expect.observations:
        assert problems(_result(observation, observation.unit)) == []


def test_a_check_words_it_itself_in_one_line():
    expect = Expect()
    expect.true("x", True, observed_text="3 of 3 nodes ready", expected_text="every node ready")
    assert (expect.observations[0].observed_text, expect.observations[0].expected_text) == (
        "3 of 3 nodes ready",
        "every node ready",
    )


def test_the_wording_check_sees_a_repr_and_a_missing_unit():
    bad = {"id": "X-Y", "unit": "GiB", "observed": "13", "expected": "['a']", "observed_value": 13,
           "expected_value": ["a"]}  # fmt: skip
    found = problems(bad)
    assert any("without its unit" in p for p in found) and any("repr" in p for p in found)
    assert problems({"id": "X-Y", "unit": None, "observed": "0.92", "expected": "x", "observed_value": 0.92})


def test_a_list_value_reads_as_a_list_in_html_and_markdown_and_one_line_elsewhere():
    from readiness.report.writers import _said_html, _said_md, said_text

    expect = Expect()
    with pytest.raises(ExpectationNotMet):
        expect.equal("Pending pods", ["prefect/a-1", "prefect/b-2"], [])
    observation = expect.observations[0]
    result = {**_result(observation), "label": observation.label}
    assert str(_said_html(result, "observed")) == "Pending pods:<ul><li>prefect/a-1</li><li>prefect/b-2</li></ul>"
    assert _said_md(result, "observed") == "Pending pods:<ul><li>prefect/a-1</li><li>prefect/b-2</li></ul>"
    assert said_text(result, "observed") == "Pending pods: prefect/a-1, prefect/b-2"
    assert said_text(result, "expected") == "Pending pods: none"
    # A report written before the sentences (the typed value in `observed`) still reads as words.
    old = {"id": "X-Y", "unit": "GiB", "observed": 13.0, "expected": 16}
    assert (said_text(old, "observed"), said_text(old, "expected")) == ("13 GiB", "16 GiB")
