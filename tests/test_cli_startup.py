"""Start-up of the ``lesionbench`` command: help and version import no science.

Each check runs in a fresh interpreter (a subprocess), since this test session has long
imported numpy. No timings here: benchmarks/bench_cli_startup.py measures them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

import pytest

from lesionbench.cli import VERBS, build_parser, chosen_verb

HEAVY = ("numpy", "scipy", "pandas", "nibabel", "matplotlib", "torch", "SimpleITK")

_PROBE = """
import json, sys
from lesionbench.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _probe(argv: list[str]) -> tuple[int, str, set[str]]:
    """Exit code, printed text and loaded modules of ``lesionbench ARGV`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True)
    *text, last = done.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    return report["code"], "\n".join(text), set(report["modules"])


def _verb_modules(*verbs: str) -> set[str]:
    """The modules registering ``verbs`` (all verbs when none is named)."""
    return {VERBS[v][0].split(":")[0] for v in (verbs or VERBS)}


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in HEAVY if m in modules)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []], ids=["help", "version", "no-verb"])
def test_top_level_imports_no_verb_and_no_science(argv):
    code, text, modules = _probe(argv)
    assert code == (2 if not argv else 0)
    assert _heavy(modules) == []
    assert _verb_modules() & modules == set()
    if argv == ["--help"]:
        for name in VERBS:
            assert name in text
        assert text.index("import") < text.index("methods")


@pytest.mark.parametrize("verb", list(VERBS))
def test_verb_help_imports_no_science(verb):
    """Every verb's package ``__init__`` and ``cli`` import no numpy/scipy/pandas: the parser is
    built from light modules (``options``, ``layout``, ``plan``) and the science is imported by
    the function that runs the verb."""
    code, text, modules = _probe([verb, "--help"])
    assert code == 0
    assert text.startswith(f"usage: lesionbench {verb}")
    assert _heavy(modules) == []
    assert _verb_modules() & modules == _verb_modules(verb)


def _registered_help(verb: str) -> tuple[str | None, argparse.ArgumentParser]:
    module_name, function = VERBS[verb][0].split(":")
    parser = argparse.ArgumentParser(prog="lesionbench")
    sub = parser.add_subparsers(dest="verb")
    getattr(importlib.import_module(module_name), function)(sub)
    (action,) = sub._choices_actions
    return action.help, sub.choices[verb]


@pytest.mark.parametrize("verb", list(VERBS))
def test_summary_is_the_help_the_verb_registers(verb):
    help_text, _ = _registered_help(verb)
    assert help_text == VERBS[verb][1]


@pytest.mark.parametrize("verb", list(VERBS))
def test_build_parser_loads_only_the_chosen_verb(verb):
    parser = build_parser(verb)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(VERBS)
    _, alone = _registered_help(verb)
    assert sub.choices[verb].format_help() == alone.format_help()
    for other in VERBS:
        if other != verb:
            assert sub.choices[other].format_usage() == f"usage: lesionbench {other} [-h]\n"


def test_chosen_verb():
    assert chosen_verb(["--help"]) is None
    assert chosen_verb([]) is None
    assert chosen_verb(["consensus", "--help"]) == "consensus"
    assert chosen_verb(["--version", "rank", "x.tsv"]) == "rank"
    assert chosen_verb(["bogus", "consensus"]) is None


def test_parsers_take_their_choices_from_the_library():
    """No verb keeps a written-out copy of a choice list: the parser's choices are the library's."""
    from lesionbench import DEFAULT_SEED
    from lesionbench.cohort.layout import LAYOUTS
    from lesionbench.consensus.options import DEFAULT_DILATION, MAP_MODE_NAMES, METHODS, REGIONS
    from lesionbench.ranking.options import DEFAULT_LEADERBOARD_METRICS, SCHEMES, STRATA
    from lesionbench.synth.plan import PRESETS

    def choices(verb: str) -> dict[str, object]:
        _, parser = _registered_help(verb)
        return {a.dest: (a.choices, a.default) for a in parser._actions}

    assert choices("import")["layout"][0] == LAYOUTS
    assert choices("synth")["preset"][0] == tuple(sorted(PRESETS))
    assert choices("synth")["seed"][1] == DEFAULT_SEED
    consensus = choices("consensus")
    assert consensus["method"][0] == METHODS and consensus["region"][0] == REGIONS
    assert consensus["map_mode"][0] == MAP_MODE_NAMES and consensus["dilation"][1] == DEFAULT_DILATION
    rank = choices("rank")
    assert rank["scheme"][0] == tuple(sorted(SCHEMES)) and tuple(rank["strata"][0]) == STRATA
    assert tuple(rank["metrics"][1]) == DEFAULT_LEADERBOARD_METRICS and rank["seed"][1] == DEFAULT_SEED
