"""`readiness requirements` and `readiness profiles`: the catalog as a table and as JSON."""

from __future__ import annotations

import json

from readiness.cli import main
from readiness.core.profile import load_profile

#: the catalog grows with the suites; the tests count it rather than pin a number
CATALOG = len(load_profile("aws").requirements)


def test_requirements_as_json_carry_the_profiles_parameters_and_source(capsys):
    assert main(["requirements", "--profile", "sandbox", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["profile"] == "sandbox"
    by_id = {r["id"]: r for r in data["requirements"]}
    assert len(by_id) == CATALOG
    assert by_id["PG-VERSION-TESTED"]["params"] == {"major": 15}  # the sandbox profile's override
    assert by_id["K8S-NODE-COUNT"]["level"] == "recommended"
    assert by_id["K8S-NODE-COUNT"]["source"] == "Suggested minimum of 3 nodes, with autoscaling enabled"


def test_requirements_table_has_one_row_per_requirement(capsys):
    # not a terminal (captured): one block per requirement, wrapped at 100 columns, not a 400-column table
    assert main(["requirements", "--profile", "aws"]) == 0
    out = capsys.readouterr().out
    assert f"profile aws: {CATALOG} requirements" in out
    blocks = out.split("\n")[1:]
    heads = [i for i, line in enumerate(blocks) if line and not line.startswith(" ")]
    assert len(heads) == CATALOG
    start = next(i for i in heads if blocks[i].startswith("K8S-NODE-SIZE "))
    block = " ".join(" ".join(blocks[start : heads[heads.index(start) + 1]]).split())
    assert "recommended" in block and "min_vcpu=8" in block and "8 vCPU / 16 GiB memory recommended node size" in block
    assert max(map(len, out.splitlines())) <= 100


def test_requirements_piped_wrap_at_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["requirements", "--profile", "aws"]) == 0
    assert max(map(len, capsys.readouterr().out.splitlines())) <= 60


def test_an_unknown_profile_is_one_line_and_exit_4(capsys):
    assert main(["requirements", "--profile", "nope"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("readiness requirements: error:") and len(err.strip().splitlines()) == 1


def test_profiles_lists_every_shipped_profile_with_its_description(capsys):
    assert main(["profiles", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"base", "aws", "gcp", "azure", "sandbox"}
    assert rows["aws"]["extends"] == ["base"] and rows["aws"]["description"]
    assert main(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("sandbox") and "(extends base)" in line for line in lines)
