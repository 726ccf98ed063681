"""The shape of the workflow: rule files hold rules, helpers live in common.smk as defs, every
path comes from lesionbench.workflow.paths, and the default DAG keeps its jobs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, SNAKEMAKE
from lesionbench.workflow import paths

RULES = REPO / "workflow" / "rules"
RULE_FILES = sorted(p for p in RULES.glob("*.smk") if p.name != "common.smk")
SMK_FILES = [REPO / "workflow" / "Snakefile", *sorted(RULES.glob("*.smk"))]

#: Jobs per rule of the default config's dry run (the demo), measured before the refactor that
#: moved every helper into common.smk and every path into lesionbench.workflow.paths; the 14
#: harmonize_case jobs of then are now 6 (training split) + 8 harmonize_test_case.
DEFAULT_JOBS: dict[str, int] = {
    "all": 1,
    "cohort_overview": 1,
    "consensus_case": 14,
    "consensus_tables": 1,
    "consensus_validation_case": 14,
    "ensemble_case": 8,
    "evaluate_batch": 7,  # 14 cases in batches of 2 (metrics.batch_size auto on 2 cores)
    "harmonize_case": 6,
    "harmonize_fit_nyul": 4,
    "harmonize_qc": 1,
    "harmonize_test_case": 8,
    "import_cohort": 1,
    "infer_method_sklearn": 16,
    "infer_method_unet": 8,
    "lesion_frequency_map": 1,
    "methods_table": 1,
    "metrics_table": 1,
    "preprocess_case": 14,
    "preprocess_overlays": 1,
    "preprocess_table": 1,
    "provenance": 1,
    "qc_case": 14,
    "qc_inputs": 1,
    "ranking": 1,
    "synthesize_anatomy": 1,
    "synthesize_case": 14,
    "train_method_sklearn": 2,
    "train_method_unet": 1,
}

# A top-level line of a rule file: a rule, a checkpoint, `localrules:`, an `if` around rules, or an include.
_RULE_FILE_LINE = re.compile(r"^(rule \w+:|checkpoint \w+:|use rule \w+ as \w+ with:|localrules:|if .+:|include: .+)$")


def test_rule_files_hold_only_rules():
    for smk in RULE_FILES:
        for number, line in enumerate(smk.read_text().splitlines(), start=1):
            if not line or line[0] in " #":
                continue
            assert _RULE_FILE_LINE.match(line), f"{smk.name}:{number}: not a rule: {line!r}"


def test_no_lambdas_in_workflow():
    for smk in SMK_FILES:
        assert "lambda" not in smk.read_text(), f"{smk.name}: helpers are named defs in common.smk"


def test_no_global_is_changed_after_it_is_made():
    """No list or dict shared between .smk files: nothing appends to or extends a global, so
    the order of the includes cannot change what a run does."""
    mutation = re.compile(r"^[A-Z_][A-Z0-9_]*(\s*\+=|\.(append|extend|update|insert)\()", re.M)
    for smk in SMK_FILES:
        found = mutation.findall(smk.read_text())
        assert not found, f"{smk.name} changes a global: {found}"


def test_paths_come_from_the_paths_module():
    literal = re.compile(r"""["'](results|logs|benchmarks)/""")
    for smk in SMK_FILES:
        for number, line in enumerate(smk.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            assert not literal.search(code), f"{smk.name}:{number}: a path spelled out: {line.strip()}"


def test_paths_module_imports_only_the_standard_library():
    tree = ast.parse(Path(paths.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "paths imports nothing from lesionbench"
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in sys.stdlib_module_names, f"paths imports {name}"


def test_path_patterns_keep_their_wildcards():
    assert paths.preprocessed(name="brain_mask") == "results/preprocessed/{case}/brain_mask.nii.gz"
    assert paths.preprocessed("c1", "flair") == "results/preprocessed/c1/flair.nii.gz"
    assert paths.harmonized() == "results/harmonized/{scheme}/{case}/{modality}.nii.gz"
    assert paths.prediction_dir("m", "c1") == "results/predictions/m/c1"
    assert paths.consensus_loo_dir(fusion="staple") == "results/consensus/{case}/loo_staple"
    assert paths.log("qc_case/{case}") == "logs/qc_case/{case}.log"
    assert paths.benchmark("ranking") == "benchmarks/results/ranking.tsv"
    assert paths.METRICS_TABLE == "results/metrics/metrics.tsv"
    assert paths.LEADERBOARD == "results/ranking/leaderboard.tsv"


def test_ranking_files_follow_the_options():
    from lesionbench.ranking.options import RankingOptions
    from lesionbench.ranking.outputs import ranking_files

    few = RankingOptions(reference="consensus_x", analysis_metrics=("dice",), n_bootstrap=0, strata=("center",))
    files = {f.key: f for f in ranking_files(few)}
    assert files["leaderboard"].path == paths.LEADERBOARD
    assert files["by_center"].path == paths.ranking_table("leaderboard_by_center")
    assert "kendall_tau" not in files and "bootstrap_summary" not in files
    assert files["podium_dice"].path == paths.ranking_figure("podium_dice")
    with_bootstrap = {f.key for f in ranking_files(RankingOptions(reference="consensus_x", n_bootstrap=10))}
    assert {"kendall_tau", "bootstrap_summary", "kendall_tau_summary"} <= with_bootstrap
    no_figures = ranking_files(RankingOptions(reference="consensus_x", figures=False))
    assert not [f for f in no_figures if f.group in ("figure", "summary_figure")]


@pytest.mark.slow
def test_default_dag_keeps_its_jobs(tmp_path: Path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path)]
        + ["--configfile", str(REPO / "config" / "config.yaml"), "-n", "--cores", "2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = Counter(re.findall(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):$", result.stdout, re.M))
    assert dict(jobs) == DEFAULT_JOBS
