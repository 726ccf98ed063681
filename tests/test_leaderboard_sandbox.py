"""The leaderboard marks participants' commands with the tool that isolated them, and warns about
an unsandboxed one (``sandbox: none``); without participants' commands it is unchanged."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import yaml

from lesionbench.ranking.demo import demo_metrics_table
from lesionbench.ranking.outputs import command_sandboxes, options_from_config
from lesionbench.ranking.pipeline import RankingOptions, run_ranking

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "consensus_lop-staple"


def table() -> pd.DataFrame:
    return demo_metrics_table(
        np.random.default_rng(3), n_methods=3, n_cases=4, n_raters=2, metrics=("dice", "lesion_f1")
    )


def options(**kw) -> RankingOptions:
    return RankingOptions(reference=REFERENCE, n_bootstrap=0, strata=(), figures=False, **kw)


def test_sandbox_of_each_command_entry_from_the_config():
    entries = [
        {"name": "boxed", "kind": "command", "inputs": ["nyul/flair"], "command": "tool {output}"},
        {"name": "cheat", "kind": "command", "inputs": ["nyul/flair"], "command": "tool {output}", "sandbox": "none"},
        {"name": "sif", "kind": "command", "inputs": ["nyul/flair"], "command": "tool {output}", "container": "x.sif"},
        {"name": "oci", "kind": "command", "inputs": ["nyul/flair"], "command": "tool {output}", "image": "x:1"},
        {"name": "sub", "kind": "submission", "folder": "/data/sub"},
        {"name": "fh", "kind": "flair_hyperintensity", "inputs": ["nyul/flair"]},
    ]
    assert command_sandboxes(entries) == (
        ("boxed", "bwrap"),
        ("cheat", "none"),
        ("sif", "apptainer"),
        ("oci", "podman"),
    )
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["ranking"].setdefault("reference", "")
    assert options_from_config(config).sandboxes == ()  # the demo has no participants' commands


def test_leaderboard_without_commands_is_unchanged(tmp_path):
    plain = run_ranking(table(), tmp_path / "a", options())
    marked = run_ranking(table(), tmp_path / "b", options(sandboxes=(("someone_else", "bwrap"),)))
    assert "sandbox" not in plain.columns
    for name in ("leaderboard.tsv", "leaderboard.md"):
        assert "andbox" not in (tmp_path / "a" / name).read_text()
    assert list(marked.columns) == [*plain.columns[:3], "sandbox", *plain.columns[3:]]
    pd.testing.assert_frame_equal(marked.drop(columns="sandbox"), plain)


def test_unsandboxed_command_is_marked_in_table_and_markdown(tmp_path):
    sandboxes = (("method00", "bwrap"), ("method01", "none"))
    board = run_ranking(table(), tmp_path, options(sandboxes=sandboxes)).set_index("entry")
    assert board.loc["method00", "sandbox"] == "bwrap" and board.loc["method01", "sandbox"] == "none"
    assert board.loc["method02", "sandbox"] == "" and board.loc["rater1", "sandbox"] == ""
    saved = pd.read_csv(tmp_path / "leaderboard.tsv", sep="\t", keep_default_na=False).set_index("entry")
    assert saved.loc["method01", "sandbox"] == "none" and saved.loc["method02", "sandbox"] == ""
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert "**Unsandboxed:** method01 ran with `sandbox: none`" in markdown
    assert "| entry_kind | sandbox |" in markdown
    calm = run_ranking(table(), tmp_path / "calm", options(sandboxes=(("method00", "bwrap"),)))
    assert "Unsandboxed" not in (tmp_path / "calm" / "leaderboard.md").read_text() and "sandbox" in calm.columns


def test_report_caption_names_unsandboxed_entries():
    import jinja2

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    caption = (REPO / "workflow/report/leaderboard.rst").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def render(methods: list[dict]) -> str:
        smk = SimpleNamespace(config={**config, "methods": methods})
        return env.from_string(caption).render(snakemake=smk)

    cheat = {"name": "cheat", "kind": "command", "command": "tool {output}", "sandbox": "none"}
    boxed = {"name": "boxed", "kind": "command", "command": "tool {output}", "sandbox": "auto"}
    assert "**Unsandboxed entries: cheat.**" in render([boxed, cheat])
    assert "Unsandboxed" not in render([boxed]) and "Unsandboxed" not in render(config["methods"])
