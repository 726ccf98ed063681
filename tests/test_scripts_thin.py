"""Workflow scripts are thin adapters: at most 25 lines, each hands the rule's files to the library
through ``run_script`` (the logic lives in ``src/lesionbench``, where it is tested)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py"))
MAX_LINES = 25


def test_there_are_scripts():
    assert len(SCRIPTS) > 20


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_at_most_25_lines(script):
    n = len(script.read_text().splitlines())
    assert n <= MAX_LINES, f"{script.name} has {n} lines: move its logic into the library"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_runs_main_through_run_script(script):
    tree = ast.parse(script.read_text())
    last = tree.body[-1]
    assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
    call = last.value
    assert isinstance(call.func, ast.Name) and call.func.id == "run_script"
    assert [a.id for a in call.args if isinstance(a, ast.Name)] == ["snakemake", "main"]
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    assert len(mains) == 1, f"{script.name} must define one main(smk)"
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name != "main"], (
        "helpers belong in the library"
    )
